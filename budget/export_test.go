package budget

// HoldCombiner makes every operation on l queue for the combining runner
// and holds the runner until release is called, so that a test can line up
// operations and have them run as one batch. queued reports how many wait.
// Call it only while l is idle.
func HoldCombiner(l *Ledger) (queued func() int, release func()) {
	gate := make(chan struct{})
	l.queueMu.Lock()
	l.maxDirect = 0
	l.beforeBatch = func() { <-gate }
	l.queueMu.Unlock()
	queued = func() int {
		l.queueMu.Lock()
		defer l.queueMu.Unlock()
		return len(l.queue)
	}
	return queued, func() { close(gate) }
}

// Remembered returns how many counters l's combining runners hold copies
// of (see hot.go).
func Remembered(l *Ledger) int {
	l.hot.mu.Lock()
	defer l.hot.mu.Unlock()
	n := 0
	for _, e := range l.hot.m {
		if e.c != nil {
			n++
		}
	}
	return n
}
