package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/persistkit/persist"
)

// The locked transaction path reads every counter a batch touches with one
// [persist.GetManyForUpdate] and writes the changed ones back with one
// [persist.PutMany], each on condition of the revision it was read at: two
// round trips however many tiers, on a store that is a [persist.Batcher].
// There GetManyForUpdate locks the rows in ascending id order, so every
// transaction locks in one order and none can deadlock, and a hot
// budget's row stays locked for the whole transaction, so its round trips
// bound the throughput of that budget. On any other store the conditional
// write takes the place of the lock: a counter written by someone else in
// between fails it with a conflict, and the transaction runs again.

// locked is a counter as read in a transaction, with the revision it was
// read at.
type locked struct {
	c       *counter
	rev     int64
	changed bool
}

// errChanged is a conditional counter write that found a counter written
// since it was read: the transaction runs again from what is stored.
var errChanged = errors.New("budget: counters changed since they were read")

// retryChanged runs tx, and again for as long as it fails with errChanged
// and ctx allows.
func retryChanged(ctx context.Context, tx func() error) error {
	for {
		err := tx()
		if !errors.Is(err, errChanged) || ctx.Err() != nil {
			return err
		}
	}
}

// counterIDs returns the distinct counter ids of targets, sorted.
func counterIDs(targets []target) []string {
	ids := make([]string, 0, len(targets))
	for _, t := range targets {
		ids = append(ids, t.id)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// lockedTx runs ops in a transaction that reads their counters for update.
func (l *Ledger) lockedTx(ctx context.Context, ops []*job) error {
	ids := counterIDs(opTargets(ops))
	// The counters' stripes are taken before the transaction's connection,
	// as batchApply takes them before Apply's: waiting for a stripe while
	// holding a connection could leave the stripe's holder without one.
	unlock := l.hot.lock(ids)
	defer unlock()
	var written map[string]*locked // the counters as committed
	every := ops
	err := retryChanged(ctx, func() error {
		return l.db.Tx(ctx, func(tx persist.Tx) error {
			written = nil
			now := l.cfg.clock().Unix()
			resetResults(every)
			ops, err := l.verifyPlans(ctx, tx, every)
			if err != nil {
				return err
			}
			hs, err := tx.Store(l.cfg.holds)
			if err != nil {
				return err
			}
			cs, err := tx.Store(l.cfg.counters)
			if err != nil {
				return err
			}
			// Settlements delete their hold records, and reservations
			// insert theirs, before any counter is locked: no other
			// operation touches them. A denied reservation's record is
			// deleted again under the locks, which costs a round trip only
			// when there are denials.
			if err := deleteHolds(ctx, hs, ops); err != nil {
				return err
			}
			if err := insertHolds(ctx, hs, ops); err != nil {
				return err
			}
			state, err := l.lockAll(ctx, cs, ids)
			if err != nil {
				return err
			}
			for _, st := range state {
				st.c.reclaim(now)
			}
			denied, putBack, err := decide(ops, state, now, true)
			if err != nil {
				return err
			}
			if len(denied) > 0 {
				if _, err := persist.DeleteMany(ctx, hs, denied); err != nil {
					return err
				}
			}
			if err := putBackHolds(ctx, hs, putBack); err != nil {
				return err
			}
			if err := l.writeAll(ctx, cs, ids, state); err != nil {
				return err
			}
			written = state
			return nil
		})
	})
	switch {
	case err == nil:
		l.hot.remember(written, time.Now())
	default:
		l.hot.forget(ids, false, time.Now())
	}
	return err
}

// verifyPlans reads the limits records that reservations planned from
// remembered budgets depend on, and returns ops without those whose
// budgets changed since, which fail with errReplan. It reads without
// locking, as plan does: a budget changed while the transaction runs
// applies from the next Reserve. (Locking here, before the counters, would
// take locks in the opposite order to Apply's statement.)
func (l *Ledger) verifyPlans(ctx context.Context, tx persist.Tx, ops []*job) ([]*job, error) {
	var ids []string
	for _, o := range ops {
		if o.kind == opReserve {
			for _, c := range o.r.checks {
				if !slices.Contains(ids, c.id) {
					ids = append(ids, c.id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return ops, nil
	}
	ls, err := tx.Store(l.cfg.limits)
	if err != nil {
		return nil, err
	}
	recs, err := persist.GetMany(ctx, ls, ids)
	if err != nil {
		return nil, err
	}
	revs := make(map[string]int64, len(ids))
	for i, rec := range recs {
		revs[ids[i]] = rec.Revision // 0 for a missing record
	}
	kept := make([]*job, 0, len(ops))
	for _, o := range ops {
		stale := false
		if o.kind == opReserve {
			for _, c := range o.r.checks {
				stale = stale || revs[c.id] != c.rev
			}
		}
		if stale {
			o.err = errReplan
			continue
		}
		kept = append(kept, o)
	}
	return kept, nil
}

// deleteHolds deletes the hold records of the settlements among ops, and
// marks as no-ops those already settled by an earlier attempt. A missing
// record means either that an earlier attempt whose outcome was unknown did
// settle it, or that it expired long ago and was swept: the first is a
// no-op; in the second the hold is gone from the counters too, and the
// actual cost is still charged.
func deleteHolds(ctx context.Context, hs persist.Store, ops []*job) error {
	var ids []string
	var settles []*job
	for _, o := range ops {
		if o.kind == opSettle {
			ids = append(ids, o.r.id)
			settles = append(settles, o)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	existed, err := persist.DeleteMany(ctx, hs, ids)
	if err != nil {
		return err
	}
	for i, o := range settles {
		o.noop = !existed[i] && o.r.attempted
	}
	return nil
}

// insertHolds inserts the hold records of the reservations among ops.
func insertHolds(ctx context.Context, hs persist.Store, ops []*job) error {
	var holds []persist.Record
	for _, o := range ops {
		if o.kind == opReserve {
			holds = append(holds, persist.Record{ID: o.r.id, Data: o.r.hold})
		}
	}
	return putBackHolds(ctx, hs, holds)
}

// putBackHolds inserts hold records, none of which may exist yet.
func putBackHolds(ctx context.Context, hs persist.Store, holds []persist.Record) error {
	if len(holds) == 0 {
		return nil
	}
	res, err := hs.InsertMany(ctx, holds)
	if err != nil {
		return err
	}
	if res.Inserted != len(holds) {
		return fmt.Errorf("budget: %d of %d hold records already existed", len(holds)-res.Inserted, len(holds))
	}
	return nil
}

// lockAll reads the counters ids for update, in one round trip on a
// [persist.Batcher]. A missing counter matches [persist.ErrNotFound], as
// UpdateFunc's would.
func (l *Ledger) lockAll(ctx context.Context, cs persist.Store, ids []string) (map[string]*locked, error) {
	recs, err := persist.GetManyForUpdate(ctx, cs, ids)
	if err != nil {
		return nil, err
	}
	state := make(map[string]*locked, len(ids))
	for i, rec := range recs {
		if rec.ID == "" {
			return nil, &persist.Error{Op: "get", Table: l.cfg.counters, ID: ids[i], Err: persist.ErrNotFound}
		}
		c, err := decodeCounter(l.cfg.counters, rec)
		if err != nil {
			return nil, err
		}
		state[rec.ID] = &locked{c: c, rev: rec.Revision}
	}
	return state, nil
}

// writeAll writes the changed counters of state, in one round trip on a
// [persist.Batcher], each on condition that it is still at the revision it
// was read at, and sets their new revisions in state. A counter no longer
// at its revision fails the write with errChanged, which also matches
// [persist.ErrConflict].
func (l *Ledger) writeAll(ctx context.Context, cs persist.Store, ids []string, state map[string]*locked) error {
	recs, err := changed(ids, state)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	out, err := persist.PutMany(ctx, cs, recs)
	if errors.Is(err, persist.ErrConflict) {
		return fmt.Errorf("%w: %w", errChanged, err)
	}
	if err != nil {
		return err
	}
	for i, rec := range out {
		state[recs[i].ID].rev = rec.Revision
	}
	return nil
}

// changed returns the counters of state among ids that changed, encoded, in
// the order of ids, each with the revision it was read at.
func changed(ids []string, state map[string]*locked) ([]persist.Record, error) {
	recs := make([]persist.Record, 0, len(ids))
	for _, id := range ids {
		st := state[id]
		if !st.changed {
			continue
		}
		data, err := st.c.encode()
		if err != nil {
			return nil, err
		}
		recs = append(recs, persist.Record{ID: id, Data: data, Revision: st.rev})
	}
	return recs, nil
}
