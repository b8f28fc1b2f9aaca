//go:build !unix

package feedbench

// cpuTime is unavailable here, so the CPU figure reads 0.
func cpuTime() int64 { return 0 }
