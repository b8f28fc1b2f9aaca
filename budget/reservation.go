package budget

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/persistkit/persist"
)

// Reservation is budget held for one model call by [Ledger.Reserve]. Settle
// it exactly once with [Reservation.Commit] or [Reservation.Release]; both
// are idempotent and safe to call concurrently, and the first call wins, so
// `defer r.Release(ctx)` after a Commit is harmless.
type Reservation struct {
	l        *Ledger
	id       string
	scopes   []Scope
	estimate Micros
	created  time.Time
	expires  time.Time
	exp      int64 // expires, Unix seconds: the hold group in each counter
	targets  []target
	checks   []limitCheck    // the limits Reserve planned from, if remembered ones
	hold     json.RawMessage // the hold record's data
	decision Decision
	failOpen bool

	mu        sync.Mutex
	settled   bool
	attempted bool // a settling transaction failed, perhaps after committing
}

// ID returns the reservation's id, a version 7 UUID.
func (r *Reservation) ID() string { return r.id }

// Estimate returns the amount held.
func (r *Reservation) Estimate() Micros { return r.estimate }

// Expires returns when the hold lapses if the reservation is not settled.
// It is zero for a fail-open reservation, which holds nothing.
func (r *Reservation) Expires() time.Time { return r.expires }

// Decision returns the decision that admitted the reservation: every
// budget's state just before the hold, and the soft thresholds it crosses.
func (r *Reservation) Decision() Decision { return r.decision }

// Commit records actual as the call's cost and frees the rest of the hold,
// in one transaction. An actual above the estimate is recorded in full:
// the budget may then end over its limit, and later requests are denied
// until the period rolls over. Zero records no cost, as Release does.
//
// Commit after the reservation expired still records the cost, in the
// period the reservation was made in. A second Commit or Release is a
// no-op returning nil. A negative actual matches [persist.ErrInvalid] and
// changes nothing. If the database is unreachable the error matches
// [ErrUnavailable] and Commit may be called again.
func (r *Reservation) Commit(ctx context.Context, actual Micros) error {
	if actual < 0 {
		return invalid("commit", "negative cost %s", actual)
	}
	return r.settle(ctx, "commit", actual)
}

// Release frees the hold without recording any cost. It is idempotent, and
// a no-op after Commit.
func (r *Reservation) Release(ctx context.Context) error {
	return r.settle(ctx, "release", 0)
}

func (r *Reservation) settle(ctx context.Context, op string, actual Micros) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled {
		return nil
	}
	var err error
	if r.failOpen {
		err = r.l.charge(ctx, r.scopes, r.created, actual)
	} else {
		err = r.l.settle(ctx, r, actual)
	}
	if err != nil {
		r.attempted = true
		return wrap(op, err)
	}
	r.settled = true
	if op == "commit" {
		r.l.observe(ctx, Event{Kind: EventCommitted, Op: op, Amount: actual, Held: !r.failOpen})
	} else {
		r.l.observe(ctx, Event{Kind: EventReleased, Op: op, Held: !r.failOpen})
	}
	return nil
}

// settle moves r's hold into spend on each counter, through the combiner.
func (l *Ledger) settle(ctx context.Context, r *Reservation, actual Micros) error {
	return l.submit(ctx, &job{kind: opSettle, r: r, actual: actual}).err
}

// charge adds actual to the spend of every budget of scopes, in the periods
// in force at "at", without any check: it settles a fail-open reservation,
// which held nothing.
func (l *Ledger) charge(ctx context.Context, scopes []Scope, at time.Time, actual Micros) error {
	if actual == 0 {
		return nil
	}
	targets, err := l.plan(ctx, scopes, at)
	if err != nil || len(targets) == 0 {
		return err
	}
	if err := l.ensureCounters(ctx, targets); err != nil {
		return err
	}
	ids := counterIDs(targets)
	// Written outside batchTx, the remembered copies are out of date.
	defer l.hot.forget(ids, false, time.Now())
	return retryChanged(ctx, func() error {
		return l.db.Tx(ctx, func(tx persist.Tx) error {
			cs, err := tx.Store(l.cfg.counters)
			if err != nil {
				return err
			}
			now := l.cfg.clock().Unix()
			state, err := l.lockAll(ctx, cs, ids)
			if err != nil {
				return err
			}
			for _, st := range state {
				st.c.reclaim(now)
				if st.c.Spent, err = st.c.Spent.Add(actual); err != nil {
					return err
				}
				st.changed = true
			}
			return l.writeAll(ctx, cs, ids, state)
		})
	})
}
