package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// runRows is the number of pipeline runs BenchmarkFind queries
// (PERSIST_FIND_BENCH_ROWS, default 200,000): 50 pipelines, a quarter of
// the runs failed, one started every 18 seconds.
func runRows() int {
	if n, err := strconv.Atoi(os.Getenv("PERSIST_FIND_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

const runStart = 1_700_000_000

func runDoc(i int) []byte {
	status := "ok"
	if i%4 == 1 {
		status = "failed"
	}
	return fmt.Appendf(nil, `{"pipeline":"p%d","status":%q,"started":%d,"duration_ms":%d,"commit":"%040x"}`,
		i%50, status, runStart+18*i, 1000+i%7919, i)
}

// benchRounds is how many times BenchmarkFind alternates persist and raw
// (PERSIST_BENCH_ROUNDS, default 1).
func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("PERSIST_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// BenchmarkFind compares three list-screen queries through persist, with
// declared indexes, against the same data in a second table queried with
// hand-written SQL over hand-made expression indexes, persist and raw
// alternating which goes first each round.
// runsFixture is a fresh schema holding n runs in the persist table
// "runs", with the declared indexes, and the same rows in "rawruns" with
// hand-made expression indexes, and a raw pool; it returns the store, the
// pool and rawruns' qualified name.
func runsFixture(b *testing.B, n int) (persist.Store, *pgxpool.Pool, string) {
	b.Helper()
	ctx := context.Background()
	db, schema := mustOpen(b, nil)
	s := mustStore(b, db, "runs")
	for start := 0; start < n; start += 10_000 {
		var recs []persist.Record
		for i := start; i < min(start+10_000, n); i++ {
			recs = append(recs, persist.Record{ID: fmt.Sprintf("run%07d", i), Data: runDoc(i)})
		}
		if _, err := s.InsertMany(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, idx := range runIndexes {
		if err := persist.EnsureIndex(ctx, s, idx); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := pgxpool.ParseConfig(testURL(b))
	if err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	raw := ident.Quote(schema) + ".rawruns"
	for _, stmt := range []string{
		"CREATE TABLE " + raw + " AS SELECT id, data, revision, created_at, updated_at FROM " + ident.Quote(schema) + ".runs",
		"CREATE INDEX ON " + raw + " ((data->>'pipeline'), (data->>'status'), ((data->>'started')::bigint) DESC)",
		"CREATE INDEX ON " + raw + " (((data->>'started')::bigint))",
		"VACUUM ANALYZE " + raw,
		"VACUUM ANALYZE " + ident.Quote(schema) + ".runs",
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	return s, pool, raw
}

// runIndexes are the indexes the benchmarks declare.
var runIndexes = []persist.Index{
	{Name: "by_pipeline", Fields: []persist.Sort{{Path: "pipeline"}, {Path: "status"}, {Path: "started", Dir: persist.Desc}}},
	{Name: "by_started", Fields: []persist.Sort{{Path: "started"}}},
}

// alternate runs persist and raw for benchRounds, swapping which goes
// first each round.
func alternate(b *testing.B, persistFn, rawFn func(b *testing.B)) {
	for i := range benchRounds() {
		if i%2 == 0 {
			b.Run("persist", persistFn)
			b.Run("raw", rawFn)
		} else {
			b.Run("raw", rawFn)
			b.Run("persist", persistFn)
		}
	}
}

// BenchmarkFind compares three list-screen queries through persist, with
// declared indexes, against the same data in a second table queried with
// hand-written SQL over hand-made expression indexes, persist and raw
// alternating which goes first each round.
func BenchmarkFind(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	n := runRows()
	s, pool, raw := runsFixture(b, n)
	const cols = "id, data, revision, created_at, updated_at"
	newestSQL := "SELECT " + cols + " FROM " + raw +
		" WHERE data->>'pipeline' = $1 AND data->>'status' = $2 ORDER BY (data->>'started')::bigint DESC LIMIT 20"
	hourSQL := "SELECT " + cols + " FROM " + raw +
		" WHERE (data->>'started')::bigint >= $1 AND (data->>'started')::bigint < $2 ORDER BY (data->>'started')::bigint"
	countSQL := "SELECT count(*) FROM " + raw + " WHERE data->>'pipeline' = $1 AND data->>'status' = $2"

	rawAll := func(b *testing.B, sql string, args ...any) int {
		rows, err := pool.Query(ctx, sql, args...)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		k := 0
		for rows.Next() {
			var rec persist.Record
			var data []byte
			if err := rows.Scan(&rec.ID, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
				b.Fatal(err)
			}
			rec.Data = data
			k++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		return k
	}
	findAll := func(b *testing.B, q persist.Query) int {
		k := 0
		for _, err := range s.Find(ctx, q) {
			if err != nil {
				b.Fatal(err)
			}
			k++
		}
		return k
	}
	hourStart := runStart + 18*(n/2)
	newestQ := persist.Where("pipeline", "==", "p7").Where("status", "==", "failed").OrderBy("started", persist.Desc).Limit(20)
	hourQ := persist.Where("started", ">=", hourStart).Where("started", "<", hourStart+3600).OrderBy("started", persist.Asc)
	countQ := persist.Where("pipeline", "==", "p7").Where("status", "==", "failed")
	for _, q := range []persist.Query{newestQ, hourQ} {
		if p, err := persist.Explain(ctx, s, q); err != nil || !p.Indexed {
			b.Fatalf("not indexed: %v\n%s", err, p.Detail)
		}
	}
	cases := []struct {
		name          string
		persist, rawF func(b *testing.B)
	}{
		{"NewestFailed", func(b *testing.B) {
			for range b.N {
				if findAll(b, newestQ) != 20 {
					b.Fatal("want 20")
				}
			}
		}, func(b *testing.B) {
			for range b.N {
				if rawAll(b, newestSQL, "p7", "failed") != 20 {
					b.Fatal("want 20")
				}
			}
		}},
		{"Hour", func(b *testing.B) {
			for range b.N {
				if findAll(b, hourQ) != 200 {
					b.Fatal("want 200")
				}
			}
		}, func(b *testing.B) {
			for range b.N {
				if rawAll(b, hourSQL, hourStart, hourStart+3600) != 200 {
					b.Fatal("want 200")
				}
			}
		}},
		{"CountFailed", func(b *testing.B) {
			for range b.N {
				if _, err := s.CountWhere(ctx, countQ); err != nil {
					b.Fatal(err)
				}
			}
		}, func(b *testing.B) {
			for range b.N {
				var k int64
				if err := pool.QueryRow(ctx, countSQL, "p7", "failed").Scan(&k); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { alternate(b, c.persist, c.rawF) })
	}
}

// BenchmarkFindScan reads every run through a filter no index serves
// (duration_ms >= 0 holds for all), persist against the raw statement.
func BenchmarkFindScan(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	n := runRows()
	s, pool, raw := runsFixture(b, n)
	q := persist.Where("duration_ms", ">=", 0)
	alternate(b, func(b *testing.B) {
		for range b.N {
			k := 0
			for _, err := range s.Find(ctx, q) {
				if err != nil {
					b.Fatal(err)
				}
				k++
			}
			if k != n {
				b.Fatalf("read %d, want %d", k, n)
			}
		}
	}, func(b *testing.B) {
		for range b.N {
			rows, err := pool.Query(ctx, "SELECT id, data, revision, created_at, updated_at FROM "+raw+" WHERE (data->>'duration_ms')::bigint >= $1", 0)
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for rows.Next() {
				var rec persist.Record
				var data []byte
				if err := rows.Scan(&rec.ID, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
					b.Fatal(err)
				}
				k++
			}
			rows.Close()
			if k != n {
				b.Fatalf("read %d, want %d", k, n)
			}
		}
	})
}

// BenchmarkPutIndexed is Put into a table with the two declared indexes
// (persist) against Put into one without (raw here meaning "no index"),
// on 8 workers.
func BenchmarkPutIndexed(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	db, _ := mustOpen(b, nil)
	plain, indexed := mustStore(b, db, "plain"), mustStore(b, db, "indexed")
	if _, err := plain.Count(ctx); err != nil {
		b.Fatal(err)
	}
	for _, idx := range runIndexes {
		if err := persist.EnsureIndex(ctx, indexed, idx); err != nil {
			b.Fatal(err)
		}
	}
	var round atomic.Int64
	put := func(s persist.Store) func(b *testing.B) {
		return func(b *testing.B) {
			r := round.Add(1)
			parallel(b, func(i int64) error {
				_, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("r%d-%d", r, i), Data: runDoc(int(i))})
				return err
			})
		}
	}
	alternate(b, put(indexed), put(plain))
}
