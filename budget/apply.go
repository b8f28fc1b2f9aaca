package budget

import (
	"context"
	"errors"
	"time"

	"github.com/persistkit/persist"
)

// batchApply runs ops as one [persist.Apply], starting from the
// counters as this Ledger last committed them (hot.go): the hold records
// inserted and deleted and the counters written on condition of their
// revisions, all or nothing, in one round trip on PostgreSQL. The counter
// rows are then locked only while that one statement runs and commits.
//
// Reservations planned from remembered budgets add checks that their
// limits records are unchanged (see limitcache.go).
//
// It reports done=false, having changed nothing, when there is no copy to
// start from, when a decision needs the stored counters (a denial, a failed
// settlement), when a copy or a budget proves out of date, or when a hold
// record to delete is missing (a settlement repeated after an unknown
// outcome, or a swept hold): the caller then runs the batch in a
// transaction, which reads the counters under lock and handles all of
// these.
func (l *Ledger) batchApply(ctx context.Context, ops []*job) (done bool, err error) {
	ids := counterIDs(opTargets(ops))
	unlock := l.hot.lock(ids)
	defer unlock()
	state := l.hot.states(ids)
	if state == nil {
		return false, nil
	}
	now := l.cfg.clock().Unix()
	resetResults(ops)
	for _, st := range state {
		st.c.reclaim(now)
	}
	if _, _, err := decide(ops, state, now, false); err != nil {
		return false, nil // errUnverified
	}
	writes := make([]persist.Write, 0, len(ops)+len(ids))
	var checked []string
	checks := map[string]int64{}
	for _, o := range ops {
		if o.kind != opReserve {
			continue
		}
		for _, c := range o.r.checks {
			if rev, ok := checks[c.id]; ok {
				if rev != c.rev {
					return false, nil // planned from two versions: let them plan again
				}
				continue
			}
			checks[c.id] = c.rev
			checked = append(checked, c.id)
			writes = append(writes, persist.Write{Table: l.cfg.limits, Op: persist.WriteCheck, Record: persist.Record{ID: c.id, Revision: c.rev}})
		}
	}
	for _, o := range ops {
		switch o.kind {
		case opSettle:
			writes = append(writes, persist.Write{Table: l.cfg.holds, Op: persist.WriteDelete, Record: persist.Record{ID: o.r.id}})
		case opReserve:
			writes = append(writes, persist.Write{Table: l.cfg.holds, Op: persist.WriteInsert, Record: persist.Record{ID: o.r.id, Data: o.r.hold}})
		}
	}
	first := len(writes)
	recs, err := changed(ids, state)
	if err != nil {
		return true, err
	}
	for _, rec := range recs {
		writes = append(writes, persist.Write{Table: l.cfg.counters, Op: persist.WritePut, Record: rec})
	}
	out, err := persist.Apply(ctx, l.db, writes...)
	switch {
	case errors.Is(err, persist.ErrConflict):
		// A counter or a budget changed; which, the error need not say.
		l.hot.forget(ids, true, time.Now())
		l.limits.forget(checked...)
		return false, nil
	case errors.Is(err, persist.ErrNotFound):
		return false, nil
	case err != nil:
		l.hot.forget(ids, false, time.Now())
		return true, err
	}
	for i, w := range writes[first:] {
		state[w.Record.ID].rev = out[first+i].Revision
	}
	l.hot.remember(state, time.Now())
	return true, nil
}
