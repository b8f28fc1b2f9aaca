package otelpersist_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestProgress(t *testing.T) {
	ctx := t.Context()
	tel := newTelemetry(t)
	open := func(name string) persist.DB {
		db, err := persist.Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), name), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	src, dst := open("src.db"), open("dst.db")
	s, _ := src.Store("items")
	recs := make([]persist.Record, 1200)
	for i := range recs {
		recs[i] = persist.Record{ID: fmt.Sprintf("i%04d", i), Data: json.RawMessage(`{}`)}
	}
	if _, err := s.InsertMany(ctx, recs); err != nil {
		t.Fatal(err)
	}
	calls := 0
	progress, err := tel.obs.Progress(func(migrate.Progress) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Copy(ctx, src, dst, &migrate.Options{BatchSize: 500, Progress: progress}); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("next was never called")
	}
	got := map[string]int64{}
	m, ok := metric(t, tel, "persist.migrate.records")
	if !ok {
		t.Fatal("no persist.migrate.records")
	}
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		a := attrs(p.Attributes.ToSlice())
		got[a["db.collection.name"]+" "+a["persist.migrate.phase"]] = p.Value
	}
	if got["items copy"] != 1200 || got["items verify"] != 1200 {
		t.Errorf("persist.migrate.records %v, want 1200 copied and verified", got)
	}
	m, ok = metric(t, tel, "persist.migrate.records.total")
	if !ok {
		t.Fatal("no persist.migrate.records.total")
	}
	for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		if p.Value != 1200 {
			t.Errorf("persist.migrate.records.total %v: %d, want 1200", p.Attributes.ToSlice(), p.Value)
		}
	}
}
