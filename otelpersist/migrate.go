package otelpersist

import (
	"context"
	"sync"

	"github.com/persistkit/persist/migrate"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// migratePhaseKey is the phase a migration metric counts.
const migratePhaseKey = attribute.Key("persist.migrate.phase")

// Progress returns a function for [migrate.Options.Progress] that records
// each report as metrics and then calls next, if not nil (a progress bar,
// say): persist.migrate.records counts the records each phase has handled
// (copied, or compared), and persist.migrate.records.total is the table's
// record count when the phase started, both by db.collection.name and
// persist.migrate.phase (copy, verify). Use one function per migration:
// it remembers how far each table's phase had come.
func (o *Observer) Progress(next func(migrate.Progress)) (func(migrate.Progress), error) {
	records, err := o.meter.Int64Counter("persist.migrate.records",
		metric.WithDescription("Records a migration has handled, by table and phase."),
		metric.WithUnit("{record}"))
	if err != nil {
		return nil, err
	}
	total, err := o.meter.Int64Gauge("persist.migrate.records.total",
		metric.WithDescription("Records in the source table when the migration's phase started."),
		metric.WithUnit("{record}"))
	if err != nil {
		return nil, err
	}
	type key struct {
		table string
		phase migrate.Phase
	}
	var mu sync.Mutex
	done := map[key]int64{}
	return func(p migrate.Progress) {
		ctx := context.Background()
		set := metric.WithAttributeSet(attribute.NewSet(semconv.DBCollectionName(p.Table), migratePhaseKey.String(string(p.Phase))))
		if p.Phase != migrate.PhaseIndex {
			mu.Lock()
			k := key{p.Table, p.Phase}
			delta := p.Done - done[k]
			if delta > 0 {
				done[k] = p.Done
			}
			mu.Unlock()
			if delta > 0 {
				records.Add(ctx, delta, set)
			}
			total.Record(ctx, p.Total, set)
		}
		if next != nil {
			next(p)
		}
	}, nil
}
