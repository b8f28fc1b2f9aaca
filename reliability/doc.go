// Package reliability holds the crash, fault, secret and leak tests of persist:
// fuzzing of identifiers and documents through the real SQLite backend,
// SIGKILL crash safety of a SQLite file, connection kills and server
// restarts against PostgreSQL, a check that no password or token reaches a
// log or an error, and file-descriptor and goroutine leak checks.
//
// It has no code of its own: everything is in its tests. RELIABILITY.md at
// the repository root lists what each test injects, the figures of the last
// run and the commands that reproduce them.
package reliability
