package otelpersist_test

import (
	"encoding/json"
	"testing"

	"github.com/persistkit/persist"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// points returns a metric's int64 data points by their attributes.
func points(t *testing.T, tel *telemetry, name string) map[string]int64 {
	t.Helper()
	m, ok := metric(t, tel, name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	out := map[string]int64{}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: %T, want an int64 sum", name, m.Data)
	}
	for _, p := range sum.DataPoints {
		a := attrs(p.Attributes.ToSlice())
		out[a["db.client.connection.pool.name"]+" "+a["db.client.connection.state"]] = p.Value
	}
	return out
}

func TestPools(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		tel := newTelemetry(t)
		db := b.open(t, &persist.Options{Observer: tel.obs})
		reg, err := tel.obs.Pools("app", db.(persist.PoolStater))
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Unregister()
		ctx := t.Context()
		s, _ := db.Store("pooled")
		if _, err := s.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		pools := db.(persist.PoolStater).PoolStats()
		var inTx map[string]int64
		err = db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("pooled")
			if err != nil {
				return err
			}
			if _, err := ts.Get(ctx, "a"); err != nil {
				return err
			}
			inTx = points(t, tel, "db.client.connection.count")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		after := points(t, tel, "db.client.connection.count")
		max := points(t, tel, "db.client.connection.max")
		var used int64
		for _, p := range pools {
			name := "app/" + p.Pool
			if got := max[name+" "]; got != int64(p.MaxOpen) {
				t.Errorf("db.client.connection.max for %s: %d, want %d", name, got, p.MaxOpen)
			}
			if _, ok := after[name+" idle"]; !ok {
				t.Errorf("no idle count for %s in %v", name, after)
			}
			if after[name+" used"] != 0 {
				t.Errorf("%s: %d used after the transaction, want 0", name, after[name+" used"])
			}
			used += inTx[name+" used"]
		}
		if used < 1 {
			t.Errorf("used connections during a transaction: %v, want at least 1", inTx)
		}
		if _, ok := metric(t, tel, "persist.client.connection.waits"); !ok {
			t.Error("no persist.client.connection.waits")
		}
		if _, ok := metric(t, tel, "persist.client.connection.wait_time"); !ok {
			t.Error("no persist.client.connection.wait_time")
		}
	})
}
