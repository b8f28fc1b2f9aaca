package budget

import (
	"context"
	"encoding/json"
	"time"

	"github.com/persistkit/persist"
)

// sweepBatch bounds the records one sweep looks at.
const sweepBatch = 64

// Sweep deletes the records of reservations that expired more than one TTL
// ago without being settled, such as those of a crashed process, and
// returns how many it deleted. It looks at a bounded number of the oldest
// records; call it again while it returns a full batch.
//
// Sweeping only collects garbage: an expired hold stops counting against
// its budget on its own, and a sweep changes no budget. Reserve sweeps
// opportunistically, at most once per TTL per Ledger, so calling Sweep is
// never required.
func (l *Ledger) Sweep(ctx context.Context) (int, error) {
	const op = "sweep"
	hs, err := l.db.Store(l.cfg.holds)
	if err != nil {
		return 0, wrap(op, err)
	}
	cutoff := l.cfg.clock().Unix() - l.cfg.ttl
	var stale []string
	// Holds are listed in insertion order, which is reservation order:
	// the expired ones, older than any live one, come first.
	for rec, err := range hs.List(ctx, &persist.ListOptions{Limit: sweepBatch}) {
		if err != nil {
			return 0, wrap(op, err)
		}
		var h holdDoc
		if json.Unmarshal(rec.Data, &h) == nil && h.Expires < cutoff {
			stale = append(stale, rec.ID)
		}
	}
	n := 0
	for _, id := range stale {
		ok, err := hs.Delete(ctx, id)
		if err != nil {
			return n, wrap(op, err)
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// maybeSweep runs one Sweep if none ran in this Ledger for a TTL. Errors
// are ignored: the next sweep retries, and nothing depends on it.
func (l *Ledger) maybeSweep(ctx context.Context, now time.Time) {
	last := l.lastSweep.Load()
	if now.Unix()-last < l.cfg.ttl || !l.lastSweep.CompareAndSwap(last, now.Unix()) {
		return
	}
	_, _ = l.Sweep(ctx)
}
