package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/postgres"
)

// Each benchmark has a persist sub-benchmark and a /raw sibling that sends
// the same SQL through a bare pgxpool of the same size, in the same run, so
// the ratio is persist's own overhead.

const benchWorkers = 8

// benchFixture is a DB on a fresh schema and a raw pool beside it. The
// table has the GIN index, as BENCHMARKS.md's figures were measured: Query
// is the indexed path, and Put and InsertMany pay for the index.
func benchFixture(b *testing.B, table string, rows int) (*postgres.DB, *postgres.Store, *pgxpool.Pool) {
	b.Helper()
	db, schema := mustOpen(b, func(c *postgres.Config) { c.QueryIndex = true })
	s := mustStore(b, db, table)
	ctx := context.Background()
	if _, err := s.Count(ctx); err != nil { // creates the table
		b.Fatal(err)
	}
	for start := 0; start < rows; start += 10000 {
		recs := make([]persist.Record, 0, 10000)
		for i := start; i < min(start+10000, rows); i++ {
			recs = append(recs, persist.Record{ID: fmt.Sprintf("id%07d", i), Data: benchDoc(i)})
		}
		if _, err := s.InsertMany(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := pgxpool.ParseConfig(testURL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = postgres.MaxConns(db)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+ident.Quote(schema)+"."+ident.Quote(table)); err != nil {
		b.Fatal(err)
	}
	return db, s, pool
}

func benchDoc(i int) []byte {
	return fmt.Appendf(nil, `{"name":"user %d","group":%d,"active":%v,"tags":["a","b"],"score":%d.5}`, i, i%1000, i%2 == 0, i)
}

// runs counts calls of siblings, to alternate their order.
var runs atomic.Int64

// siblings runs the persist and raw sub-benchmarks, alternating which goes
// first from one -count round to the next so that neither always finds
// the server in the state the other left it.
func siblings(b *testing.B, persistFn, rawFn func(b *testing.B)) {
	if runs.Add(1)%2 == 0 {
		b.Run("raw", rawFn)
		b.Run("persist", persistFn)
		return
	}
	b.Run("persist", persistFn)
	b.Run("raw", rawFn)
}

// parallel runs fn on benchWorkers goroutines.
func parallel(b *testing.B, fn func(i int64) error) {
	b.SetParallelism((benchWorkers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := fn(n.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	testURL(b)
	const rows = 10000
	_, s, pool := benchFixture(b, "bench", rows)
	ctx := context.Background()
	sql := postgres.GetSQL(s)
	siblings(b, func(b *testing.B) {
		parallel(b, func(i int64) error {
			_, err := s.Get(ctx, fmt.Sprintf("id%07d", i%rows))
			return err
		})
	}, func(b *testing.B) {
		parallel(b, func(i int64) error {
			var data []byte
			var rev int64
			var c, u time.Time
			return pool.QueryRow(ctx, sql, fmt.Sprintf("id%07d", i%rows)).Scan(&data, &rev, &c, &u)
		})
	})
}

func BenchmarkPut(b *testing.B) {
	testURL(b)
	const rows = 10000
	_, s, pool := benchFixture(b, "bench", rows)
	ctx := context.Background()
	sql := postgres.PutSQL(s)
	// Rewrite every row once first, so neither side pays alone for the
	// first update of each page after the bulk load (full-page WAL images,
	// GIN pending-list growth).
	for i := range rows {
		if _, err := pool.Exec(ctx, sql, fmt.Sprintf("id%07d", i), benchDoc(i), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	siblings(b, func(b *testing.B) {
		parallel(b, func(i int64) error {
			_, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("id%07d", i%rows), Data: benchDoc(int(i))})
			return err
		})
	}, func(b *testing.B) {
		parallel(b, func(i int64) error {
			var rev int64
			var c, u time.Time
			return pool.QueryRow(ctx, sql, fmt.Sprintf("id%07d", i%rows), benchDoc(int(i)), time.Now()).Scan(&rev, &c, &u)
		})
	})
}

// BenchmarkQuery filters 100,000 records on one field; each query matches
// 100 records, read in full.
func BenchmarkQuery(b *testing.B) {
	testURL(b)
	_, s, pool := benchFixture(b, "bench", 100000)
	ctx := context.Background()
	sql := postgres.QuerySQL(s)
	filter := func(i int) json.RawMessage { return fmt.Appendf(nil, `{"group":%d}`, i%1000) }
	// Read every group once, so both sub-benchmarks find the heap pages in
	// shared buffers: the bulk insert went through a small ring buffer.
	for g := range 1000 {
		rows, err := pool.Query(ctx, sql, pgx.QueryExecModeCacheDescribe, int64(math.MinInt64), 500, filter(g))
		if err != nil {
			b.Fatal(err)
		}
		rows.Close()
	}
	siblings(b, func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			n := 0
			for _, err := range s.Query(ctx, filter(i), nil) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 100 {
				b.Fatalf("matched %d, want 100", n)
			}
		}
	}, func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			rows, err := pool.Query(ctx, sql, pgx.QueryExecModeCacheDescribe, int64(math.MinInt64), 500, filter(i))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var id string
				var seq, rev int64
				var data []byte
				var c, u time.Time
				if err := rows.Scan(&id, &seq, &data, &rev, &c, &u); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if rows.Err() != nil || n != 100 {
				b.Fatalf("matched %d, %v; want 100", n, rows.Err())
			}
		}
	})
}

// BenchmarkInsertMany inserts batches of 1000 new records: through
// persist (one INSERT ... SELECT FROM unnest(...) statement per batch), the
// same statement sent raw, and the alternative that lost, COPY into a
// temporary staging table then INSERT ... SELECT ... ON CONFLICT DO NOTHING
// in one transaction, also raw.
func BenchmarkInsertMany(b *testing.B) {
	testURL(b)
	_, s, pool := benchFixture(b, "bench", 0)
	ctx := context.Background()
	var next atomic.Int64
	batch := func() []persist.Record {
		recs := make([]persist.Record, 1000)
		for i := range recs {
			n := next.Add(1)
			recs[i] = persist.Record{ID: fmt.Sprintf("n%09d", n), Data: benchDoc(int(n))}
		}
		return recs
	}
	sql := postgres.InsertManySQL(s)
	// Each side starts from an empty table: inserting into a bigger table
	// (and GIN index) costs more, which would favour whichever runs first.
	empty := func(b *testing.B) {
		b.Helper()
		if _, err := s.Clear(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "VACUUM "+postgres.QualifiedName(s)); err != nil {
			b.Fatal(err)
		}
	}
	siblings(b, func(b *testing.B) {
		empty(b)
		for b.Loop() {
			b.StopTimer()
			recs := batch()
			b.StartTimer()
			res, err := s.InsertMany(ctx, recs)
			if err != nil || res.Inserted != 1000 {
				b.Fatalf("InsertMany=%+v, %v", res, err)
			}
		}
	}, func(b *testing.B) {
		empty(b)
		for b.Loop() {
			b.StopTimer()
			recs := batch()
			b.StartTimer()
			ids := make([]string, len(recs))
			data := make([][]byte, len(recs))
			revs := make([]pgtype.Int8, len(recs))
			ts := make([]pgtype.Timestamptz, len(recs))
			for i := range recs {
				ids[i], data[i] = recs[i].ID, recs[i].Data
			}
			tag, err := pool.Exec(ctx, sql, ids, data, revs, ts, ts, time.Now())
			if err != nil || tag.RowsAffected() != 1000 {
				b.Fatalf("insert: %v, %v", tag, err)
			}
		}
	})
	b.Run("copy-raw", func(b *testing.B) {
		empty(b)
		for b.Loop() {
			b.StopTimer()
			recs := batch()
			b.StartTimer()
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS persist_stage
					(ord int, id text, data jsonb, rev bigint, c timestamptz, u timestamptz) ON COMMIT DELETE ROWS`); err != nil {
					return err
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"persist_stage"}, []string{"ord", "id", "data", "rev", "c", "u"},
					pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
						return []any{int32(i), recs[i].ID, []byte(recs[i].Data), pgtype.Int8{}, pgtype.Timestamptz{}, pgtype.Timestamptz{}}, nil
					})); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, "INSERT INTO "+postgres.QualifiedName(s)+" (id, data, revision, created_at, updated_at) "+
					"SELECT id, data, coalesce(rev, 1), coalesce(c, now()), coalesce(u, now()) FROM persist_stage ORDER BY ord "+
					"ON CONFLICT (id) DO NOTHING")
				if err == nil && tag.RowsAffected() != 1000 {
					err = fmt.Errorf("inserted %d", tag.RowsAffected())
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
