package budget

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// holdDoc is the record of one reservation in the holds table. It exists
// from Reserve to Commit or Release, which delete it in the same
// transaction that settles the counters: whether it is still there says
// whether the reservation was settled, which makes settling idempotent
// even after a failure whose outcome was unknown.
type holdDoc struct {
	Amount   Micros   `json:"amount"`
	Expires  int64    `json:"expires"` // Unix seconds
	Counters []string `json:"counters"`
}

// Reserve atomically holds req.Estimate against every budget of every scope
// req names, or against none: either the estimate fits all of them, taking
// into account what is spent and what live reservations hold, or nothing
// changes and the error is an [*ExceededError] matching [ErrExceeded].
// Call [Reservation.Commit] with the real cost once it is known, or
// [Reservation.Release] if the call was not made; a reservation settled by
// neither expires after [Options.ReservationTTL].
//
// Tiers without a budget do not constrain the request, but if no named
// scope has any budget Reserve fails with [ErrNoBudget]. A non-positive
// estimate or bad scopes match [persist.ErrInvalid]. An unreachable
// database matches [ErrUnavailable] (map it to 503), unless
// [Options.FailOpen] is set: then the returned reservation holds nothing
// and its Decision has FailOpen set.
func (l *Ledger) Reserve(ctx context.Context, req Request) (*Reservation, error) {
	const op = "reserve"
	scopes, err := req.Scopes.list()
	if err != nil {
		return nil, err
	}
	if req.Estimate <= 0 {
		return nil, invalid(op, "estimate %s is not positive", req.Estimate)
	}
	now := l.cfg.clock()
	r, err := l.reserve(ctx, req, scopes, now)
	if err != nil {
		if unavailable(err) && l.cfg.failOpen {
			l.observe(ctx, Event{Kind: EventFailOpen, Op: op, Amount: req.Estimate})
			return &Reservation{
				l: l, id: ident.NewID(), scopes: scopes, estimate: req.Estimate,
				created: now, failOpen: true,
				decision: Decision{Allowed: true, Estimate: req.Estimate, FailOpen: true},
			}, nil
		}
		if ex := (*ExceededError)(nil); l.cfg.obs != nil && errors.As(err, &ex) {
			l.observe(ctx, Event{Kind: EventDenied, Op: op, Tier: ex.Decision.DeniedBy, Amount: req.Estimate})
		}
		return nil, err
	}
	l.observe(ctx, Event{Kind: EventAdmitted, Op: op, Amount: req.Estimate})
	l.maybeSweep(ctx, now)
	return r, nil
}

func (l *Ledger) reserve(ctx context.Context, req Request, scopes []Scope, now time.Time) (*Reservation, error) {
	const op = "reserve"
	cache, refreshed := true, false // cache: plan from the remembered budgets
	for {
		var targets []target
		var checks []limitCheck
		ok := false
		if cache {
			targets, checks, ok = l.planCached(scopes, now)
		}
		if !ok {
			var err error
			if targets, err = l.plan(ctx, scopes, now); err != nil {
				return nil, wrap(op, err)
			}
			checks = nil
		}
		if len(targets) == 0 {
			return nil, noBudget(op, scopes)
		}
		r, err := l.newReservation(scopes, req.Estimate, now, targets, checks)
		if err != nil {
			return nil, wrap(op, err)
		}
		if err := l.ensureCounters(ctx, targets); err != nil {
			return nil, wrap(op, err)
		}
		o := l.submit(ctx, &job{kind: opReserve, r: r})
		switch {
		case o.denied:
			dec := Decision{Estimate: req.Estimate, Budgets: o.statuses}
			dec.finish()
			return nil, &ExceededError{Decision: dec}
		case errors.Is(o.err, errReplan):
			// The budgets it was planned from may have changed, and
			// nothing was done: plan again from the store.
			cache = false
			continue
		case errors.Is(o.err, persist.ErrNotFound) && !refreshed:
			refreshed = true
			l.forget(targets)
			continue
		case o.err != nil:
			return nil, wrap(op, o.err)
		}
		r.decision = Decision{Estimate: req.Estimate, Budgets: o.statuses}
		r.decision.finish()
		return r, nil
	}
}

// newReservation returns the reservation of est against targets, planned
// from budgets that checks, if any, must find unchanged.
func (l *Ledger) newReservation(scopes []Scope, est Micros, now time.Time, targets []target, checks []limitCheck) (*Reservation, error) {
	exp := l.holdKey(now)
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.id
	}
	r := &Reservation{
		l: l, id: ident.NewID(), scopes: scopes, estimate: est,
		created: now, expires: time.Unix(exp, 0).UTC(), exp: exp, targets: targets, checks: checks,
	}
	var err error
	r.hold, err = json.Marshal(holdDoc{Amount: est, Expires: exp, Counters: ids})
	return r, err
}
