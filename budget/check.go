package budget

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/persistkit/persist"
)

// Check reports whether req.Estimate would fit every budget of the scopes
// req names, without holding anything: a read-only preview. Its answer can
// be stale by the time the caller acts on it; only [Ledger.Reserve]
// admits spend.
//
// Errors: bad input matches [persist.ErrInvalid]; no budget at any named
// scope is [ErrNoBudget]; an unreachable database matches [ErrUnavailable]
// unless [Options.FailOpen] is set, in which case the decision is allowed
// with FailOpen set.
func (l *Ledger) Check(ctx context.Context, req Request) (Decision, error) {
	const op = "check"
	scopes, err := req.Scopes.list()
	if err != nil {
		return Decision{}, err
	}
	if req.Estimate < 0 {
		return Decision{}, invalid(op, "negative estimate %s", req.Estimate)
	}
	now := l.cfg.clock()
	dec, err := l.check(ctx, scopes, req.Estimate, now)
	if err != nil {
		if unavailable(err) && l.cfg.failOpen {
			l.observe(ctx, Event{Kind: EventFailOpen, Op: op, Amount: req.Estimate})
			return Decision{Allowed: true, Estimate: req.Estimate, FailOpen: true}, nil
		}
		return Decision{}, err
	}
	return dec, nil
}

func (l *Ledger) check(ctx context.Context, scopes []Scope, est Micros, now time.Time) (Decision, error) {
	const op = "check"
	targets, err := l.plan(ctx, scopes, now)
	if err != nil {
		return Decision{}, wrap(op, err)
	}
	if len(targets) == 0 {
		return Decision{}, noBudget(op, scopes)
	}
	cs, err := l.db.Store(l.cfg.counters)
	if err != nil {
		return Decision{}, wrap(op, err)
	}
	dec := Decision{Estimate: est, Budgets: make([]Status, len(targets))}
	err = parallel(len(targets), func(i int) error {
		c, err := l.readCounter(ctx, cs, targets[i])
		if err != nil {
			return err
		}
		dec.Budgets[i] = targets[i].status(c, now.Unix(), est)
		return nil
	})
	if err != nil {
		return Decision{}, wrap(op, err)
	}
	dec.finish()
	return dec, nil
}

// readCounter reads t's counter without locking it; a missing counter is an
// empty one.
func (l *Ledger) readCounter(ctx context.Context, cs persist.Store, t target) (*counter, error) {
	rec, err := cs.Get(ctx, t.id)
	if errors.Is(err, persist.ErrNotFound) {
		return newCounter(t), nil
	}
	if err != nil {
		return nil, err
	}
	return decodeCounter(l.cfg.counters, rec)
}

func noBudget(op string, scopes []Scope) error {
	return fmt.Errorf("budget: %s %v: %w", op, scopes, ErrNoBudget)
}
