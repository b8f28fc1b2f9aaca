package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/persistkit/persist"
)

// On a store that implements [persist.Batcher] a transaction locks and reads
// all the counters it touches with one GetMany and writes them back with
// one PutMany: two round trips however many tiers, where UpdateFunc costs
// two per counter. A hot budget's row stays locked for the whole
// transaction, so its round trips bound the throughput of that budget.
// GetMany takes the row locks in ascending id order; every transaction on
// such a store locks through it, so they all lock in one order and cannot
// deadlock. On other stores transactions lock one counter at a time in
// [lockOrder].

// locked is a counter read under lock, with the revision it was read at.
type locked struct {
	c       *counter
	rev     int64
	changed bool
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

// lockAll locks and reads the counters ids in one round trip. A missing
// counter matches [persist.ErrNotFound], as UpdateFunc's would.
func (l *Ledger) lockAll(ctx context.Context, cb persist.Batcher, ids []string) (map[string]*locked, error) {
	recs, err := cb.GetMany(ctx, ids, true)
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

// writeAll writes the changed counters of state in one round trip, each on
// condition that it is still at the revision it was read at, so that a
// write the lock somehow failed to exclude is reported rather than lost,
// and sets their new revisions in state. A counter not at its revision
// fails the write with an error matching [persist.ErrConflict].
func (l *Ledger) writeAll(ctx context.Context, cb persist.Batcher, ids []string, state map[string]*locked) error {
	recs, err := changed(ids, state)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	out, err := cb.PutMany(ctx, recs)
	if errors.Is(err, persist.ErrConflict) {
		return fmt.Errorf("budget: counters changed since they were read: %w", err)
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
