package otelpersist

import (
	"context"

	"github.com/persistkit/persist/budget"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

var _ budget.Observer = (*Observer)(nil)

// The budget metrics' attributes.
const (
	budgetOpKey      = attribute.Key("persist.budget.operation")
	budgetOutcomeKey = attribute.Key("persist.budget.outcome")
	budgetTierKey    = attribute.Key("persist.budget.tier")
)

// batchBuckets suit the combiner's batches of 1 to 64 operations.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64}

// budgetInstruments are the instruments of Observe, made once per
// Observer.
type budgetInstruments struct {
	decisions metric.Int64Counter
	holds     metric.Int64UpDownCounter
	spend     metric.Int64Counter
	batch     metric.Int64Histogram
}

func newBudgetInstruments(m metric.Meter) (budgetInstruments, error) {
	var b budgetInstruments
	var err error
	if b.decisions, err = m.Int64Counter("persist.budget.decisions",
		metric.WithDescription("Budget decisions: reservations admitted or denied (with the denying tier), and Reserve and Check calls allowed because the database was unreachable."),
		metric.WithUnit("{decision}")); err != nil {
		return b, err
	}
	if b.holds, err = m.Int64UpDownCounter("persist.budget.holds",
		metric.WithDescription("Reservations this process holds, not yet committed or released."),
		metric.WithUnit("{hold}")); err != nil {
		return b, err
	}
	if b.spend, err = m.Int64Counter("persist.budget.spend",
		metric.WithDescription("Spend committed, in millionths of the currency unit."),
		metric.WithUnit("{micro}")); err != nil {
		return b, err
	}
	b.batch, err = m.Int64Histogram("persist.budget.batch.size",
		metric.WithDescription("Reservations and settlements combined into one transaction."),
		metric.WithUnit("{operation}"), metric.WithExplicitBucketBoundaries(batchBuckets...))
	return b, err
}

// decisionSets holds the attribute sets of persist.budget.decisions, built
// once: [op][outcome], outcome 0 admitted, 1 to 3 denied by that tier, 4
// fail-open.
var decisionSets = func() (s [2][5]metric.MeasurementOption) {
	for i, op := range []string{"reserve", "check"} {
		o := budgetOpKey.String(op)
		s[i][0] = metric.WithAttributeSet(attribute.NewSet(o, budgetOutcomeKey.String("admitted")))
		for t := budget.Org; t <= budget.Principal; t++ {
			s[i][t] = metric.WithAttributeSet(attribute.NewSet(o, budgetOutcomeKey.String("denied"), budgetTierKey.String(t.String())))
		}
		s[i][4] = metric.WithAttributeSet(attribute.NewSet(o, budgetOutcomeKey.String("fail_open")))
	}
	return s
}()

// Observe records a budget [budget.Ledger]'s event; set the Observer in
// [budget.Options] too. It records persist.budget.decisions by
// persist.budget.operation (reserve, check), persist.budget.outcome
// (admitted, denied, fail_open) and, for a denial, persist.budget.tier
// (org, team, principal); persist.budget.holds, the reservations this
// process admitted and has not committed or released (one that expires
// unsettled stays counted); persist.budget.spend, the spend committed in
// micros; and persist.budget.batch.size, the operations combined into each
// transaction. Scope names, which may name people, are never recorded.
func (o *Observer) Observe(ctx context.Context, e budget.Event) {
	b := &o.budget
	op := 0
	if e.Op == "check" {
		op = 1
	}
	switch e.Kind {
	case budget.EventAdmitted:
		b.decisions.Add(ctx, 1, decisionSets[op][0])
		b.holds.Add(ctx, 1)
	case budget.EventDenied:
		if e.Tier >= budget.Org && e.Tier <= budget.Principal {
			b.decisions.Add(ctx, 1, decisionSets[op][e.Tier])
		}
	case budget.EventFailOpen:
		b.decisions.Add(ctx, 1, decisionSets[op][4])
	case budget.EventCommitted:
		if e.Held {
			b.holds.Add(ctx, -1)
		}
		b.spend.Add(ctx, int64(e.Amount))
	case budget.EventReleased:
		if e.Held {
			b.holds.Add(ctx, -1)
		}
	case budget.EventBatch:
		b.batch.Record(ctx, int64(e.Size))
	}
}
