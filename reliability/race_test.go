//go:build race

package reliability_test

// raceEnabled reports a build with the race detector, which also
// instruments SQLite's transpiled C code and makes it some 40 times slower.
const raceEnabled = true
