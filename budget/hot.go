package budget

import (
	"maps"
	"sync"
	"time"
)

// A Ledger remembers each counter as its own last transaction committed
// it, with the revision it was stored at. The next batch applies its
// operations to that copy and writes the hold records and the counters in
// one [persist.Apply] (one statement, sent and committed in one round
// trip, on PostgreSQL, whose DB is a [persist.Applier]), the
// counters on condition that they are still at that revision, instead of
// first reading them under lock: a hot counter's row stays locked only
// while that statement runs.
// Correctness never rests on the copy: the revision condition makes the
// write a compare-and-swap against what is stored, and revisions only
// grow, so a write computed from an outdated copy fails with a conflict
// and the batch runs again from the stored counters, under lock. (They grow
// for as long as the counter record exists: clearing the counters table
// under running Ledgers resets every budget's spend, and with it this
// guarantee, until each Ledger finds its copies out of date.) Batches on
// the same counters use the copies one at a time (hotCounters.lock), and
// only a write that committed updates them.
//
// Decisions that an outdated copy could get wrong without writing anything
// (a denial, an overflow) are never taken from a copy: such a batch runs
// again under lock. A counter that another process wrote since is not
// copied again for hotBackoff, so a budget shared by busy processes does
// not pay for a failed attempt every batch.

// hotBackoff is how long a counter found written by someone else is read
// under lock before it is copied again.
const hotBackoff = time.Second

// hotCounter is the remembered state of one counter.
type hotCounter struct {
	c   *counter // nil while backing off
	rev int64
	// until is when a counter that was backed off may be copied again
	// (Unix nanoseconds).
	until int64
}

// hotCounters is the memory of counters. Its own mutex guards the map;
// the stripes order the transactions that use it, so that each starts from
// what the one before it committed.
type hotCounters struct {
	mu sync.Mutex
	m  map[string]hotCounter

	stripes [hotStripes]sync.Mutex
}

// hotStripes is how many mutexes the counter ids hash to. Transactions on
// counters of different stripes run their locked sections in parallel; on
// one hot counter they take turns, as the row lock would make them anyway.
const hotStripes = 64

// lock takes the stripes of ids in ascending order, so that transactions
// taking several cannot deadlock, and returns the function that releases
// them.
func (h *hotCounters) lock(ids []string) (unlock func()) {
	var taken [hotStripes]bool
	for _, id := range ids {
		taken[stripe(id)] = true
	}
	for i := range taken {
		if taken[i] {
			h.stripes[i].Lock()
		}
	}
	return func() {
		for i := range taken {
			if taken[i] {
				h.stripes[i].Unlock()
			}
		}
	}
}

// stripe hashes id (FNV-1a) to a stripe.
func stripe(id string) int {
	var x uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		x ^= uint32(id[i])
		x *= 16777619
	}
	return int(x % hotStripes)
}

// maxHot bounds the counters remembered; the map is cleared when it grows
// past it, which costs each hot counter one locked read.
const maxHot = 4096

// states returns copies of the remembered counters ids, ready to be
// changed, or nil unless every one of them is remembered.
func (h *hotCounters) states(ids []string) map[string]*locked {
	h.mu.Lock()
	defer h.mu.Unlock()
	state := make(map[string]*locked, len(ids))
	for _, id := range ids {
		e, ok := h.m[id]
		if !ok || e.c == nil {
			return nil
		}
		c := *e.c
		c.Holds = maps.Clone(e.c.Holds)
		state[id] = &locked{c: &c, rev: e.rev}
	}
	return state
}

// remember records the counters of state as committed at their revisions,
// except those backing off.
func (h *hotCounters) remember(state map[string]*locked, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHot {
		h.m = make(map[string]hotCounter)
	}
	for id, st := range state {
		if e, ok := h.m[id]; ok && e.c == nil && now.UnixNano() < e.until {
			continue
		}
		h.m[id] = hotCounter{c: st.c, rev: st.rev}
	}
}

// forget drops the counters ids; with backoff they are not remembered
// again for hotBackoff.
func (h *hotCounters) forget(ids []string, backoff bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if backoff && h.m != nil {
			h.m[id] = hotCounter{until: now.Add(hotBackoff).UnixNano()}
		} else {
			delete(h.m, id)
		}
	}
}
