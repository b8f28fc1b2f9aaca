package otelpersist_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/otelpersist"
	"github.com/persistkit/persist/postgres"
	"github.com/persistkit/persist/sqlite"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is an SDK that keeps what it records in memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	obs    *otelpersist.Observer
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	tel.obs = obs
	return tel
}

// last returns the last span ended, which must be named name.
func (tel *telemetry) last(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := tel.spans.Ended()
	if len(ended) == 0 {
		t.Fatalf("no span ended, want %q", name)
	}
	s := ended[len(ended)-1]
	if s.Name() != name {
		t.Fatalf("last span %q, want %q", s.Name(), name)
	}
	return s
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// backend is one backend under test: how to open it with options, and
// the attributes every span of it carries.
type backend struct {
	name   string
	open   func(t *testing.T, opts *persist.Options) persist.DB
	common map[string]string
	// kill terminates the DB's connections; nil where there are none to kill.
	kill func(t *testing.T)
}

func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "otel.db")
	return backend{
		name: "sqlite",
		open: func(t *testing.T, opts *persist.Options) persist.DB {
			db, err := persist.Open(t.Context(), "sqlite:///"+path, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		common: map[string]string{"db.system.name": "sqlite", "db.namespace": path},
	}
}

func postgresBackend(t *testing.T) backend {
	base := pgtest.URL(t)
	schema := pgtest.Schema(t, base, "otel_")
	app := "persist_otel_" + schema[len(schema)-12:]
	u := pgtest.WithSearchPath(t, base, schema, map[string]string{"application_name": app})
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	common := map[string]string{
		"db.system.name": "postgresql",
		"db.namespace":   cfg.Database + "|" + schema,
		"server.address": cfg.Host,
		"server.port":    strconv.Itoa(int(cfg.Port)),
	}
	return backend{
		name: "postgres",
		open: func(t *testing.T, opts *persist.Options) persist.DB {
			pc, err := postgres.ParseConfig(u)
			if err != nil {
				t.Fatal(err)
			}
			pc.Options = *opts
			pc.Pool.MaxConns = 2
			db, err := postgres.OpenConfig(t.Context(), pc)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		common: common,
		kill: func(t *testing.T) {
			pgtest.Exec(t, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '"+app+"'")
			time.Sleep(50 * time.Millisecond) // let the backends exit
		},
	}
}

func backends(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("SQLite", func(t *testing.T) { f(t, sqliteBackend(t)) })
	t.Run("PostgreSQL", func(t *testing.T) { f(t, postgresBackend(t)) })
}

const (
	secretID  = "id-4242-personal"
	secretDoc = `{"email":"someone@example.com"}`
)

func TestSpans(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		tel := newTelemetry(t)
		db := b.open(t, &persist.Options{Observer: tel.obs})
		ctx := t.Context()
		s, err := db.Store("people")
		if err != nil {
			t.Fatal(err)
		}
		doc := json.RawMessage(secretDoc)
		cases := []struct {
			span, op, table string
			errType         string // "" for success
			extra           map[string]string
			call            func() error
		}{
			{"put people", "put", "people", "", nil, func() error { _, err := s.Put(ctx, persist.Record{ID: secretID, Data: doc}); return err }},
			{"get people", "get", "people", "", nil, func() error { _, err := s.Get(ctx, secretID); return err }},
			{"get people", "get", "people", "not_found", nil, func() error { _, err := s.Get(ctx, "missing-"+secretID); return err }},
			{"insert people", "insert", "people", "conflict", nil, func() error { _, err := s.Insert(ctx, persist.Record{ID: secretID, Data: doc}); return err }},
			{"put people", "put", "people", "invalid", nil, func() error {
				_, err := s.Put(ctx, persist.Record{ID: secretID, Data: json.RawMessage(`[]`)})
				return err
			}},
			{"update_func people", "update_func", "people", "_OTHER", nil, func() error {
				_, err := s.UpdateFunc(ctx, secretID, func(persist.Record) (json.RawMessage, error) { return nil, errors.New("callback says " + secretDoc) })
				return err
			}},
			{"insert_many people", "insert_many", "people", "", map[string]string{"db.operation.batch.size": "3"}, func() error {
				_, err := s.InsertMany(ctx, []persist.Record{{ID: "a", Data: doc}, {ID: "b", Data: doc}, {ID: "c", Data: doc}})
				return err
			}},
			{"list people", "list", "people", "", map[string]string{"db.response.returned_rows": "4"}, func() error {
				for _, err := range s.List(ctx, nil) {
					if err != nil {
						return err
					}
				}
				return nil
			}},
			{"query people", "query", "people", "invalid", map[string]string{"db.response.returned_rows": "0"}, func() error {
				for _, err := range s.Query(ctx, json.RawMessage(`{"a b":1}`), nil) {
					if err != nil {
						return err
					}
				}
				return nil
			}},
			{"tx", "tx", "", "", nil, func() error { return db.Tx(ctx, func(persist.Tx) error { return nil }) }},
			{"ping", "ping", "", "", nil, func() error { return db.Ping(ctx) }},
		}
		for _, c := range cases {
			err := c.call()
			if (err != nil) != (c.errType != "") {
				t.Fatalf("%s: err=%v, want error type %q", c.span, err, c.errType)
			}
			sp := tel.last(t, c.span)
			if sp.SpanKind() != trace.SpanKindClient {
				t.Errorf("%s: kind %v, want client", c.span, sp.SpanKind())
			}
			want := map[string]string{"db.operation.name": c.op}
			for k, v := range b.common {
				want[k] = v
			}
			if c.table != "" {
				want["db.collection.name"] = c.table
			}
			for k, v := range c.extra {
				want[k] = v
			}
			status := codes.Unset
			if c.errType != "" {
				want["error.type"] = c.errType
				status = codes.Error
			}
			got := attrs(sp.Attributes())
			if !mapsEqual(got, want) {
				t.Errorf("%s: attributes %v, want %v", c.span, got, want)
			}
			if sp.Status().Code != status || (status == codes.Error && sp.Status().Description != c.errType) {
				t.Errorf("%s: status %v, want %v %q", c.span, sp.Status(), status, c.errType)
			}
			if !sp.EndTime().After(sp.StartTime()) && !sp.EndTime().Equal(sp.StartTime()) {
				t.Errorf("%s: ends %v before it starts %v", c.span, sp.EndTime(), sp.StartTime())
			}
		}
		// Closed, after every other case.
		db.Close()
		_, err = s.Get(ctx, secretID)
		if !errors.Is(err, persist.ErrClosed) {
			t.Fatalf("Get after Close: %v", err)
		}
		if got := attrs(tel.last(t, "get people").Attributes())["error.type"]; got != "closed" {
			t.Errorf("get after Close: error.type %q, want closed", got)
		}
		noPersonalData(t, tel)
		checkDuration(t, tel, b.common["db.system.name"])
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// noPersonalData checks every span and data point for the ids and
// documents the tests wrote.
func noPersonalData(t *testing.T, tel *telemetry) {
	t.Helper()
	for _, v := range telemetryStrings(t, tel) {
		for _, bad := range []string{secretID, "someone@example.com", "callback says"} {
			if strings.Contains(v, bad) {
				t.Errorf("telemetry carries %q: %q", bad, v)
			}
		}
	}
}

// telemetryStrings returns every name, attribute value, event and status
// the SDK recorded.
func telemetryStrings(t *testing.T, tel *telemetry) []string {
	t.Helper()
	var out []string
	kv := func(kvs []attribute.KeyValue) {
		for _, a := range kvs {
			out = append(out, string(a.Key), a.Value.String())
		}
	}
	for _, s := range tel.spans.Ended() {
		out = append(out, s.Name(), s.Status().Description)
		kv(s.Attributes())
		for _, e := range s.Events() {
			out = append(out, e.Name)
			kv(e.Attributes)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					kv(p.Attributes.ToSlice())
				}
			}
		}
	}
	return out
}

// metric returns the metric named name.
func metric(t *testing.T, tel *telemetry, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// checkDuration checks db.client.operation.duration: seconds, the
// conventions' buckets, a point for get with error.type not_found and
// one without.
func checkDuration(t *testing.T, tel *telemetry, system string) {
	t.Helper()
	m, ok := metric(t, tel, "db.client.operation.duration")
	if !ok {
		t.Fatal("no db.client.operation.duration")
	}
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("data %T, want a float64 histogram", m.Data)
	}
	var ok1, notFound bool
	for _, p := range h.DataPoints {
		if !slices.Equal(p.Bounds, []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}) {
			t.Errorf("bounds %v, want the conventions'", p.Bounds)
		}
		a := attrs(p.Attributes.ToSlice())
		if a["db.system.name"] != system {
			t.Errorf("point %v: want db.system.name %s", a, system)
		}
		if a["db.operation.name"] == "get" && a["db.collection.name"] == "people" {
			switch a["error.type"] {
			case "":
				ok1 = p.Count == 1
			case "not_found":
				notFound = p.Count == 1
			}
		}
	}
	if !ok1 || !notFound {
		t.Errorf("get points: success %v, not_found %v; want one each", ok1, notFound)
	}
}

// A retry is an event on the span, with its reason, and counted.
func TestRetries(t *testing.T) {
	t.Run("PostgreSQL", func(t *testing.T) {
		b := postgresBackend(t)
		tel := newTelemetry(t)
		db := b.open(t, &persist.Options{Observer: tel.obs})
		ctx := t.Context()
		s, _ := db.Store("retried")
		if _, err := s.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		b.kill(t)
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Fatalf("Get after the connections were killed: %v", err)
		}
		retried(t, tel, "get retried", "unavailable", "postgresql")

		// A Delete is not repeated after a lost connection: its outcome is unknown.
		b.kill(t)
		_, err := s.Delete(ctx, "a")
		if !errors.Is(err, persist.ErrUnavailable) {
			t.Fatalf("Delete after the connections were killed: %v, want ErrUnavailable", err)
		}
		sp := tel.last(t, "delete retried")
		if got := attrs(sp.Attributes())["error.type"]; got != "unavailable" || sp.Status().Code != codes.Error {
			t.Errorf("delete on a lost connection: error.type %q, status %v; want unavailable, Error", got, sp.Status())
		}
	})
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "busy.db")
		tel := newTelemetry(t)
		cfg, err := sqlite.ParseConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.BusyTimeout = time.Millisecond
		cfg.Observer = tel.obs
		cfg.Retry = &persist.RetryPolicy{MaxAttempts: 100, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
		db, err := sqlite.OpenConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, _ := db.Store("retried")
		if _, err := s.Count(t.Context()); err != nil {
			t.Fatal(err)
		}
		other, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
		go func() {
			done <- other.Tx(t.Context(), func(persist.Tx) error { close(locked); <-release; return nil })
		}()
		<-locked
		time.AfterFunc(100*time.Millisecond, func() { close(release) })
		if _, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		retried(t, tel, "put retried", "busy", "sqlite")
	})
}

// retried checks that the last span, name, succeeded after retries for
// reason, and that persist.client.operation.retries counted them.
func retried(t *testing.T, tel *telemetry, name, reason, system string) {
	t.Helper()
	sp := tel.last(t, name)
	if sp.Status().Code != codes.Unset {
		t.Errorf("%s: status %v, want unset", name, sp.Status())
	}
	events := sp.Events()
	if len(events) == 0 {
		t.Fatalf("%s: no retry event", name)
	}
	for i, e := range events {
		a := attrs(e.Attributes)
		if e.Name != "retry" || a["persist.retry.reason"] != reason || a["persist.retry.attempt"] != itoa(i+2) {
			t.Errorf("%s: event %d %q %v, want retry, reason %s, attempt %d", name, i, e.Name, a, reason, i+2)
		}
	}
	m, ok := metric(t, tel, "persist.client.operation.retries")
	if !ok {
		t.Fatal("no persist.client.operation.retries")
	}
	var n int64
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		a := attrs(p.Attributes.ToSlice())
		if a["persist.retry.reason"] == reason && a["db.system.name"] == system {
			n += p.Value
		}
	}
	if n != int64(len(events)) {
		t.Errorf("persist.client.operation.retries for %s: %d, want %d", reason, n, len(events))
	}
}

func itoa(i int) string { return attribute.IntValue(i).String() }
