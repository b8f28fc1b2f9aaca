package budget

// HoldCombiner holds every leader of l's lanes before it takes its batch,
// until release is called, so that a test can line up operations and have
// them run as one batch. queued reports how many operations wait, queued
// or leading. Call it only while l is idle.
func HoldCombiner(l *Ledger) (queued func() int, release func()) {
	gate := make(chan struct{})
	hold := func() { <-gate }
	l.group.beforeBatch.Store(&hold)
	return l.group.queued, func() { close(gate) }
}

// Remembered returns how many counters l holds copies of (see hot.go).
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

// UsageQuery is the query DailyUsage runs for scope over [from, to).
var UsageQuery = usageQuery
