//go:build unix

package otelpersist_test

import "syscall"

// cpuTime returns the process's user+system CPU time in nanoseconds. Per
// operation it is steadier than wall time on a machine shared with other
// work, which inflates wall time but not the CPU the benchmark itself uses.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
