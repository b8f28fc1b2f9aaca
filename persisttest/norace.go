//go:build !race

package persisttest

// raceDetector is true in a build with the race detector (see race.go).
const raceDetector = false
