package otelpersist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/otelpersist"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is a span exporter that drops what it gets: the SDK records and
// batches every span as in production, and nothing leaves the process.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// recordingObserver returns an Observer on an SDK that samples every span
// into a batch processor and aggregates every measurement.
func recordingObserver(b *testing.B) *otelpersist.Observer {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	return obs
}

// benchRounds is how many times each side runs, alternating which goes
// first (PERSIST_BENCH_ROUNDS, default 2).
func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("PERSIST_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// alternate runs "none" and "otel" in turn, swapping which goes first
// each round.
func alternate(b *testing.B, none, otel func(b *testing.B)) {
	for i := range benchRounds() {
		if i%2 == 0 {
			b.Run("none", withCPU(none))
			b.Run("otel", withCPU(otel))
		} else {
			b.Run("otel", withCPU(otel))
			b.Run("none", withCPU(none))
		}
	}
}

// withCPU adds the process CPU time per operation as the cpu-ns/op metric.
func withCPU(fn func(b *testing.B)) func(b *testing.B) {
	return func(b *testing.B) {
		start := cpuTime()
		fn(b)
		if start > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchURL returns a fresh database of the named backend.
func benchURL(b *testing.B, name string) string {
	if name == "SQLite" {
		return "sqlite:///" + filepath.Join(b.TempDir(), "bench.db")
	}
	base := pgtest.URL(b)
	return pgtest.WithSearchPath(b, base, pgtest.Schema(b, base, "otel_bench_"), nil)
}

const benchRecords = 10_000

// BenchmarkStore measures Get and Put on two handles of one database, one
// without an Observer and one with otelpersist on a recording SDK.
func BenchmarkStore(b *testing.B) {
	for _, be := range []string{"SQLite", "PostgreSQL"} {
		b.Run(be, func(b *testing.B) {
			ctx := context.Background()
			url := benchURL(b, be)
			open := func(opts *persist.Options) persist.Store {
				db, err := persist.Open(ctx, url, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				s, err := db.Store("bench")
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			// The records are written through a handle of their own, so
			// that the two measured handles start alike.
			seed := open(nil)
			recs := make([]persist.Record, benchRecords)
			for i := range recs {
				recs[i] = persist.Record{ID: fmt.Sprintf("rec-%06d", i), Data: json.RawMessage(fmt.Sprintf(`{"name":"record %d","group":%d}`, i, i%100))}
			}
			if _, err := seed.InsertMany(ctx, recs); err != nil {
				b.Fatal(err)
			}
			plain := open(nil)
			observed := open(&persist.Options{Observer: recordingObserver(b)})
			get := func(s persist.Store) func(b *testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					r := rand.New(rand.NewPCG(1, 2))
					for b.Loop() {
						if _, err := s.Get(ctx, fmt.Sprintf("rec-%06d", r.IntN(benchRecords))); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			doc := json.RawMessage(`{"name":"updated","group":7}`)
			put := func(s persist.Store) func(b *testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					r := rand.New(rand.NewPCG(3, 4))
					for b.Loop() {
						if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("rec-%06d", r.IntN(benchRecords)), Data: doc}); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.Run("Get", func(b *testing.B) { alternate(b, get(plain), get(observed)) })
			b.Run("Put", func(b *testing.B) { alternate(b, put(plain), put(observed)) })
		})
	}
}

// BenchmarkBudget measures budget's hot path, Reserve then Commit on one
// organization budget, with and without otelpersist counting the Ledger's
// decisions (budget.Options.Observer; the DB's own operations are
// BenchmarkStore's).
func BenchmarkBudget(b *testing.B) {
	for _, be := range []string{"SQLite", "PostgreSQL"} {
		b.Run(be, func(b *testing.B) {
			ctx := context.Background()
			url := benchURL(b, be)
			ledger := func(obs *otelpersist.Observer) *budget.Ledger {
				var lOpts *budget.Options
				if obs != nil {
					lOpts = &budget.Options{Observer: obs}
				}
				db, err := persist.Open(ctx, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				l, err := budget.New(db, lOpts)
				if err != nil {
					b.Fatal(err)
				}
				return l
			}
			plain, observed := ledger(nil), ledger(recordingObserver(b))
			scopes := budget.Scopes{Org: "hot"}
			if err := plain.SetBudget(ctx, budget.Budget{Scope: budget.Scope{Tier: budget.Org, ID: "hot"}, Period: budget.Monthly, Limit: math.MaxInt64 / 2}); err != nil {
				b.Fatal(err)
			}
			pair := func(l *budget.Ledger) func(b *testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						r, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 100})
						if err != nil {
							b.Fatal(err)
						}
						if err := r.Commit(ctx, 90); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			alternate(b, pair(plain), pair(observed))
		})
	}
}

// BenchmarkObserver measures what the Observer itself adds to one
// operation, without a database: Start and End of a span and the duration
// measurement on a recording SDK, and one budget event.
func BenchmarkObserver(b *testing.B) {
	obs := recordingObserver(b)
	ctx := context.Background()
	b.Run("Operation", withCPU(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			op := persist.Operation{System: "sqlite", Namespace: "app.db", Name: "get", Table: "users", Attempts: 1, Start: time.Now()}
			octx := obs.Start(ctx, &op)
			op.Duration = time.Since(op.Start)
			obs.End(octx, &op)
		}
	}))
	b.Run("OperationFailed", withCPU(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			op := persist.Operation{System: "sqlite", Namespace: "app.db", Name: "get", Table: "users", Attempts: 1, Start: time.Now()}
			octx := obs.Start(ctx, &op)
			op.Err, op.Duration = persist.ErrNotFound, time.Since(op.Start)
			obs.End(octx, &op)
		}
	}))
	b.Run("BudgetEvent", withCPU(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obs.Observe(ctx, budget.Event{Kind: budget.EventAdmitted, Op: "reserve", Amount: 100})
		}
	}))
}
