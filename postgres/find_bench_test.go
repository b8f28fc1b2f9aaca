package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
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
func BenchmarkFind(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	db, schema := mustOpen(b, nil)
	s := mustStore(b, db, "runs")
	n := runRows()
	for start := 0; start < n; start += 10_000 {
		var recs []persist.Record
		for i := start; i < min(start+10_000, n); i++ {
			recs = append(recs, persist.Record{ID: fmt.Sprintf("run%07d", i), Data: runDoc(i)})
		}
		if _, err := s.InsertMany(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, idx := range []persist.Index{
		{Name: "by_pipeline", Fields: []persist.Sort{{Path: "pipeline"}, {Path: "status"}, {Path: "started", Dir: persist.Desc}}},
		{Name: "by_started", Fields: []persist.Sort{{Path: "started"}}},
	} {
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
	defer pool.Close()
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
		b.Run(c.name, func(b *testing.B) {
			for i := range benchRounds() {
				if i%2 == 0 {
					b.Run("persist", c.persist)
					b.Run("raw", c.rawF)
				} else {
					b.Run("raw", c.rawF)
					b.Run("persist", c.persist)
				}
			}
		})
	}
}
