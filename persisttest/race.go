//go:build race

package persisttest

// raceDetector is true in a build with the race detector, whose
// instrumentation of the pure-Go SQLite makes each new statement several
// times slower to prepare: the random-query test then runs fewer cases.
const raceDetector = true
