package otelpersist

import (
	"context"

	"github.com/persistkit/persist"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
)

// poolInstruments are the observable instruments of Pools, made once per
// Observer.
type poolInstruments struct {
	count    dbconv.ClientConnectionCountObservable
	max      dbconv.ClientConnectionMaxObservable
	waits    metric.Int64ObservableCounter
	waitTime metric.Float64ObservableCounter
}

func newPoolInstruments(m metric.Meter) (poolInstruments, error) {
	var p poolInstruments
	var err error
	if p.count, err = dbconv.NewClientConnectionCountObservable(m); err != nil {
		return p, err
	}
	if p.max, err = dbconv.NewClientConnectionMaxObservable(m); err != nil {
		return p, err
	}
	if p.waits, err = m.Int64ObservableCounter("persist.client.connection.waits",
		metric.WithDescription("The times a caller waited for a connection, since the DB was opened."),
		metric.WithUnit("{wait}")); err != nil {
		return p, err
	}
	p.waitTime, err = m.Float64ObservableCounter("persist.client.connection.wait_time",
		metric.WithDescription("The total time callers waited for a connection, since the DB was opened."),
		metric.WithUnit("s"))
	return p, err
}

// Pools exports the connection pools of db (both backends' DBs are
// [persist.PoolStater]s) as metrics read at each collection, by the
// conventions: db.client.connection.count by db.client.connection.state
// (idle, used) and db.client.connection.max, as observable up-down
// counters, and the cumulative persist.client.connection.waits and
// persist.client.connection.wait_time (seconds). Each pool is told apart
// by db.client.connection.pool.name, name and the pool's own name joined
// by "/" ("app/writer", "app/pool"), or the pool's name alone when name
// is empty; give each DB of a program its own name.
//
// Unregister the returned Registration when db is closed.
func (o *Observer) Pools(name string, db persist.PoolStater) (metric.Registration, error) {
	p := o.pools
	return o.meter.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		for _, s := range db.PoolStats() {
			pool := s.Pool
			if name != "" {
				pool = name + "/" + s.Pool
			}
			id := semconv.DBClientConnectionPoolName(pool)
			all := metric.WithAttributeSet(attribute.NewSet(id))
			obs.ObserveInt64(p.count.Inst(), int64(s.Idle), metric.WithAttributeSet(attribute.NewSet(id, semconv.DBClientConnectionStateIdle)))
			obs.ObserveInt64(p.count.Inst(), int64(s.InUse), metric.WithAttributeSet(attribute.NewSet(id, semconv.DBClientConnectionStateUsed)))
			obs.ObserveInt64(p.max.Inst(), int64(s.MaxOpen), all)
			obs.ObserveInt64(p.waits, s.Waits, all)
			obs.ObserveFloat64(p.waitTime, s.WaitTime.Seconds(), all)
		}
		return nil
	}, p.count.Inst(), p.max.Inst(), p.waits, p.waitTime)
}
