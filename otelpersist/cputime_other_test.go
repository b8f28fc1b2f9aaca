//go:build !unix

package otelpersist_test

// cpuTime is unavailable here; benchmarks report wall time only.
func cpuTime() int64 { return 0 }
