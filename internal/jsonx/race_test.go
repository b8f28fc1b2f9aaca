//go:build race

package jsonx_test

// raceEnabled reports a build with the race detector, which also
// makes sync.Pool drop some of what is put back.
const raceEnabled = true
