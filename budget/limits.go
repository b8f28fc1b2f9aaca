package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/persistkit/persist"
)

// Budget limits one scope's spend over one period. A scope may have several
// budgets with different periods (say, 10 a day and 200 a month); a request
// must fit all of them. Budget identity is its Scope and Period.
type Budget struct {
	Scope  Scope  `json:"scope"`
	Period Period `json:"period"`

	// Limit is the hard limit: a reservation that would take spent plus
	// reserved above it is denied. Zero blocks every request.
	Limit Micros `json:"limit_micros"`

	// Soft is an optional warning threshold, at most Limit; zero means
	// none. Requests that reach it are allowed and reported in
	// [Decision.Warnings].
	Soft Micros `json:"soft_micros,omitempty"`
}

func (b Budget) validate(op string) error {
	if err := b.Scope.validate(); err != nil {
		return err
	}
	if err := b.Period.validate(); err != nil {
		return err
	}
	if b.Limit < 0 {
		return invalid(op, "%s %s: negative limit %s", b.Scope, b.Period, b.Limit)
	}
	if b.Soft < 0 || b.Soft > b.Limit {
		return invalid(op, "%s %s: soft threshold %s is not between 0 and the limit %s", b.Scope, b.Period, b.Soft, b.Limit)
	}
	return nil
}

// limitsDoc is one scope's budgets: the record "tier/id" in the limits
// table. Keeping a scope's budgets in one record lets a request load them
// with one read per tier.
type limitsDoc struct {
	Tier    string     `json:"tier"`
	Scope   string     `json:"scope"`
	Budgets []limitDoc `json:"budgets"`
}

type limitDoc struct {
	Period string `json:"period"` // Period.key
	Limit  Micros `json:"limit"`
	Soft   Micros `json:"soft,omitempty"`
}

func (l *Ledger) decodeLimits(rec persist.Record) ([]Budget, error) {
	var d limitsDoc
	bad := func(err error) error {
		return &persist.Error{Op: "get", Table: l.cfg.limits, ID: rec.ID, Err: fmt.Errorf("%w: budget limits: %v", persist.ErrInvalid, err)}
	}
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, bad(err)
	}
	var t Tier
	if err := t.UnmarshalText([]byte(d.Tier)); err != nil {
		return nil, bad(err)
	}
	out := make([]Budget, 0, len(d.Budgets))
	for _, x := range d.Budgets {
		p, err := parsePeriodKey(x.Period)
		if err != nil {
			return nil, bad(err)
		}
		out = append(out, Budget{Scope: Scope{Tier: t, ID: d.Scope}, Period: p, Limit: x.Limit, Soft: x.Soft})
	}
	return out, nil
}

// budgetsOf returns scope's budgets; none when it has no record.
func (l *Ledger) budgetsOf(ctx context.Context, s Scope) ([]Budget, error) {
	budgets, _, err := l.limitsOf(ctx, s)
	return budgets, err
}

// limitsOf reads the budgets of s with the revision of their record, 0 if
// there is none.
func (l *Ledger) limitsOf(ctx context.Context, s Scope) ([]Budget, int64, error) {
	ls, err := l.db.Store(l.cfg.limits)
	if err != nil {
		return nil, 0, err
	}
	rec, err := ls.Get(ctx, s.String())
	if errors.Is(err, persist.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	budgets, err := l.decodeLimits(rec)
	return budgets, rec.Revision, err
}

// SetBudget creates or replaces the budget for b.Scope and b.Period. The
// new limit applies from the next Check or Reserve, to spend already
// counted in the current period: lowering a limit below what is spent
// denies further requests until the period rolls over. Bad input is
// [persist.ErrInvalid] and changes nothing.
func (l *Ledger) SetBudget(ctx context.Context, b Budget) error {
	const op = "set budget"
	if err := b.validate(op); err != nil {
		return err
	}
	defer l.limits.forget(b.Scope.String())
	ls, err := l.db.Store(l.cfg.limits)
	if err != nil {
		return wrap(op, err)
	}
	entry := limitDoc{Period: b.Period.key(), Limit: b.Limit, Soft: b.Soft}
	id := b.Scope.String()
	// Update in place, or create the scope's record; an insert that loses
	// a race to another creator retries as an update.
	for attempt := 0; ; attempt++ {
		_, err := ls.UpdateFunc(ctx, id, func(cur persist.Record) (json.RawMessage, error) {
			var d limitsDoc
			if err := json.Unmarshal(cur.Data, &d); err != nil {
				return nil, fmt.Errorf("%w: budget limits: %v", persist.ErrInvalid, err)
			}
			replaced := false
			for i := range d.Budgets {
				if d.Budgets[i].Period == entry.Period {
					d.Budgets[i], replaced = entry, true
				}
			}
			if !replaced {
				d.Budgets = append(d.Budgets, entry)
			}
			return json.Marshal(d)
		})
		if !errors.Is(err, persist.ErrNotFound) {
			if err != nil {
				return wrap(op, err)
			}
			return nil
		}
		data, err := json.Marshal(limitsDoc{Tier: b.Scope.Tier.String(), Scope: b.Scope.ID, Budgets: []limitDoc{entry}})
		if err != nil {
			return wrap(op, err)
		}
		_, err = ls.Insert(ctx, persist.Record{ID: id, Data: data})
		if err == nil {
			return nil
		}
		if !errors.Is(err, persist.ErrConflict) || attempt >= 2 {
			return wrap(op, err)
		}
	}
}

// GetBudget returns the budget of scope for period, or an error matching
// [persist.ErrNotFound].
func (l *Ledger) GetBudget(ctx context.Context, scope Scope, period Period) (Budget, error) {
	const op = "get budget"
	if err := scope.validate(); err != nil {
		return Budget{}, err
	}
	if err := period.validate(); err != nil {
		return Budget{}, err
	}
	budgets, err := l.budgetsOf(ctx, scope)
	if err != nil {
		return Budget{}, wrap(op, err)
	}
	for _, b := range budgets {
		if b.Period == period {
			return b, nil
		}
	}
	return Budget{}, fmt.Errorf("budget: %s %s %s: %w", op, scope, period, persist.ErrNotFound)
}

// DeleteBudget removes the budget of scope for period, or fails with
// [persist.ErrNotFound] if there is none. Spend already counted is kept, so
// [Ledger.Spend] still reports it; reservations already made stay valid.
func (l *Ledger) DeleteBudget(ctx context.Context, scope Scope, period Period) error {
	const op = "delete budget"
	if err := scope.validate(); err != nil {
		return err
	}
	if err := period.validate(); err != nil {
		return err
	}
	defer l.limits.forget(scope.String())
	ls, err := l.db.Store(l.cfg.limits)
	if err != nil {
		return wrap(op, err)
	}
	key := period.key()
	_, err = ls.UpdateFunc(ctx, scope.String(), func(cur persist.Record) (json.RawMessage, error) {
		var d limitsDoc
		if err := json.Unmarshal(cur.Data, &d); err != nil {
			return nil, fmt.Errorf("%w: budget limits: %v", persist.ErrInvalid, err)
		}
		i := -1
		for j := range d.Budgets {
			if d.Budgets[j].Period == key {
				i = j
			}
		}
		if i < 0 {
			return nil, persist.ErrNotFound
		}
		d.Budgets = append(d.Budgets[:i], d.Budgets[i+1:]...)
		if d.Budgets == nil {
			d.Budgets = []limitDoc{}
		}
		return json.Marshal(d)
	})
	if err != nil {
		if errors.Is(err, persist.ErrNotFound) {
			return fmt.Errorf("budget: %s %s %s: %w", op, scope, period, persist.ErrNotFound)
		}
		return wrap(op, err)
	}
	return nil
}

// ListBudgets returns every budget, scope by scope in the order scopes were
// first given one. Nothing is read until the iterator is ranged over; on
// failure it yields one error and stops.
func (l *Ledger) ListBudgets(ctx context.Context) iter.Seq2[Budget, error] {
	return func(yield func(Budget, error) bool) {
		ls, err := l.db.Store(l.cfg.limits)
		if err != nil {
			yield(Budget{}, wrap("list budgets", err))
			return
		}
		for rec, err := range ls.List(ctx, nil) {
			if err != nil {
				yield(Budget{}, wrap("list budgets", err))
				return
			}
			budgets, err := l.decodeLimits(rec)
			if err != nil {
				yield(Budget{}, wrap("list budgets", err))
				return
			}
			for _, b := range budgets {
				if !yield(b, nil) {
					return
				}
			}
		}
	}
}
