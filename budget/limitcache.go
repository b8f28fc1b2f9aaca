package budget

import "sync"

// Reserve plans from the budgets it last read for each scope, instead of
// reading them on every request.
// The batch that admits the reservation then checks, in the same atomic
// Apply, that each scope's limits record is still at the revision the plan
// used (or still missing): a budget changed by any process since makes the
// Apply fail, and the reservation is planned again from what is stored.
// So a changed limit still applies from the next Reserve, exactly as with
// a read per request, and a busy gateway saves that read. Everywhere else
// (Check, the transaction path) limits are read.

// maxLimits bounds the scopes whose budgets a Ledger remembers; the map is
// cleared when it grows past it.
const maxLimits = 4096

// limitCheck is a limits record a plan used, at the revision it was read
// at (0: there was none).
type limitCheck struct {
	id  string
	rev int64
}

// cachedLimits is one scope's budgets as last read.
type cachedLimits struct {
	budgets []Budget
	rev     int64
}

// limitCache remembers scopes' budgets.
type limitCache struct {
	mu sync.Mutex
	m  map[string]cachedLimits
}

func (c *limitCache) get(id string) (cachedLimits, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *limitCache) put(id string, v cachedLimits) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxLimits {
		c.m = make(map[string]cachedLimits)
	}
	c.m[id] = v
}

func (c *limitCache) forget(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.m, id)
	}
}
