package budget

import (
	"context"
	"time"
)

// Spend is what one scope has spent and holds in one period.
type Spend struct {
	Scope       Scope     `json:"scope"`
	Period      Period    `json:"period"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Spent       Micros    `json:"spent_micros"`    // committed
	Reserved    Micros    `json:"reserved_micros"` // held by live reservations
}

// Spend returns scope's spend in the period of the given kind that
// contains at; a zero at means now. (It was called Usage, which is the
// name of a requests-table row, [Usage].) It needs no budget: spend counted under
// a budget since deleted is still reported, and a scope never charged
// reports zero. Bad input matches [persist.ErrInvalid].
func (l *Ledger) Spend(ctx context.Context, scope Scope, period Period, at time.Time) (Spend, error) {
	const op = "spend"
	if err := scope.validate(); err != nil {
		return Spend{}, err
	}
	if err := period.validate(); err != nil {
		return Spend{}, err
	}
	now := l.cfg.clock()
	if at.IsZero() {
		at = now
	}
	t := target{budget: Budget{Scope: scope, Period: period}, start: period.Start(at), end: period.End(at)}
	t.id = counterID(scope, period, t.start)
	cs, err := l.db.Store(l.cfg.counters)
	if err != nil {
		return Spend{}, wrap(op, err)
	}
	c, err := l.readCounter(ctx, cs, t)
	if err != nil {
		return Spend{}, wrap(op, err)
	}
	return Spend{
		Scope: scope, Period: period, PeriodStart: t.start, PeriodEnd: t.end,
		Spent: c.Spent, Reserved: c.live(now.Unix()),
	}, nil
}
