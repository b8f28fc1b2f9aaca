package budget

import (
	"errors"

	"github.com/persistkit/persist"
)

// errUnverified ends an attempt on remembered counters that reached a
// decision only the stored counters may make; the batch runs again under
// lock.
var errUnverified = errors.New("budget: decision needs the stored counters")

// decide runs ops one after another on the counters in state, in memory,
// and returns the ids of the denied reservations, whose hold records must
// go, and the hold records of failed settlements, which must be put back.
// Unless trusted, it fails with errUnverified instead of denying or failing
// a settlement. It does no I/O: the same decisions are made from remembered
// counters (apply.go) and from counters read under lock (locked.go).
func decide(ops []*job, state map[string]*locked, now int64, trusted bool) (denied []string, putBack []persist.Record, err error) {
	for _, o := range ops {
		switch o.kind {
		case opReserve:
			o.statuses = make([]Status, len(o.r.targets))
			for i, t := range o.r.targets {
				o.statuses[i] = t.status(state[t.id].c, now, o.r.estimate)
				o.denied = o.denied || o.statuses[i].Exceeded
			}
			if o.denied {
				if !trusted {
					return nil, nil, errUnverified
				}
				denied = append(denied, o.r.id)
				continue
			}
			for _, t := range o.r.targets {
				st := state[t.id]
				st.c.hold(o.r.exp, o.r.estimate, now)
				st.changed = true
			}
		case opSettle:
			if o.noop {
				continue
			}
			// All or nothing: check every counter before changing any.
			for _, t := range o.r.targets {
				if _, err := state[t.id].c.Spent.Add(o.actual); err != nil {
					o.err = err
				}
			}
			if o.err != nil {
				if !trusted {
					return nil, nil, errUnverified
				}
				putBack = append(putBack, persist.Record{ID: o.r.id, Data: o.r.hold})
				continue
			}
			for _, t := range o.r.targets {
				st := state[t.id]
				st.c.unhold(o.r.exp, o.r.estimate, now)
				st.c.Spent += o.actual
				st.changed = true
			}
		}
	}
	return denied, putBack, nil
}
