package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
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

func runDoc(i int) string {
	status := "ok"
	if i%4 == 1 {
		status = "failed"
	}
	return fmt.Sprintf(`{"pipeline":"p%d","status":%q,"started":%d,"duration_ms":%d,"commit":"%040x"}`,
		i%50, status, runStart+18*i, 1000+i%7919, i)
}

// BenchmarkFind compares three list-screen queries through persist, with
// declared indexes, against the same data in a second table queried with
// hand-written SQL over hand-made json_extract indexes, alternating
// persist and raw each round (PERSIST_BENCH_ROUNDS).
// runsFixture is a file holding n runs in the persist table "runs", with
// the declared indexes, and the same rows in "rawruns" with hand-made
// json_extract indexes, and a raw database/sql handle on the file.
func runsFixture(b *testing.B, n int) (persist.Store, *sql.DB) {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "find.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s, err := db.Store("runs")
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < n; start += 10_000 {
		var recs []persist.Record
		for i := start; i < min(start+10_000, n); i++ {
			recs = append(recs, persist.Record{ID: fmt.Sprintf("run%07d", i), Data: []byte(runDoc(i))})
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
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	for _, stmt := range []string{
		`CREATE TABLE rawruns AS SELECT id, data, revision, created_at, updated_at FROM runs`,
		`CREATE INDEX rawruns_p ON rawruns (json_extract(data, '$.pipeline'), json_extract(data, '$.status'), json_extract(data, '$.started') DESC)`,
		`CREATE INDEX rawruns_s ON rawruns (json_extract(data, '$.started'))`,
	} {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	return s, raw
}

// runIndexes are the indexes the benchmarks declare.
var runIndexes = []persist.Index{
	{Name: "by_pipeline", Fields: []persist.Sort{{Path: "pipeline"}, {Path: "status"}, {Path: "started", Dir: persist.Desc}}},
	{Name: "by_started", Fields: []persist.Sort{{Path: "started"}}},
}

// BenchmarkFind compares three list-screen queries through persist, with
// declared indexes, against the same data in a second table queried with
// hand-written SQL over hand-made json_extract indexes, alternating
// persist and raw each round (PERSIST_BENCH_ROUNDS).
func BenchmarkFind(b *testing.B) {
	ctx := context.Background()
	n := runRows()
	s, raw := runsFixture(b, n)
	newest, err := raw.PrepareContext(ctx, `SELECT id, data, revision, created_at, updated_at FROM rawruns
WHERE json_extract(data, '$.pipeline') = ? AND json_extract(data, '$.status') = ?
ORDER BY json_extract(data, '$.started') DESC LIMIT 20`)
	if err != nil {
		b.Fatal(err)
	}
	hour, err := raw.PrepareContext(ctx, `SELECT id, data, revision, created_at, updated_at FROM rawruns
WHERE json_extract(data, '$.started') >= ? AND json_extract(data, '$.started') < ?
ORDER BY json_extract(data, '$.started')`)
	if err != nil {
		b.Fatal(err)
	}
	count, err := raw.PrepareContext(ctx, `SELECT count(*) FROM rawruns
WHERE json_extract(data, '$.pipeline') = ? AND json_extract(data, '$.status') = ?`)
	if err != nil {
		b.Fatal(err)
	}
	scanAll := func(b *testing.B, st *sql.Stmt, args ...any) int {
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		k := 0
		for rows.Next() {
			var rec persist.Record
			var c, u int64
			if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u); err != nil {
				b.Fatal(err)
			}
			rec.Created, rec.Updated = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
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
	for _, q := range []persist.Query{newestQ, hourQ} {
		if p, err := persist.Explain(ctx, s, q); err != nil || !p.Indexed {
			b.Fatalf("not indexed: %v\n%s", err, p.Detail)
		}
	}
	type pairFn struct {
		name          string
		persist, rawF func(b *testing.B)
	}
	for _, c := range []pairFn{
		{"NewestFailed", func(b *testing.B) {
			for range b.N {
				if findAll(b, newestQ) != 20 {
					b.Fatal("want 20")
				}
			}
		}, func(b *testing.B) {
			for range b.N {
				if scanAll(b, newest, "p7", "failed") != 20 {
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
				if scanAll(b, hour, hourStart, hourStart+3600) != 200 {
					b.Fatal("want 200")
				}
			}
		}},
		{"CountFailed", func(b *testing.B) {
			for range b.N {
				if _, err := s.CountWhere(ctx, persist.Where("pipeline", "==", "p7").Where("status", "==", "failed")); err != nil {
					b.Fatal(err)
				}
			}
		}, func(b *testing.B) {
			for range b.N {
				var k int64
				if err := count.QueryRowContext(ctx, "p7", "failed").Scan(&k); err != nil {
					b.Fatal(err)
				}
			}
		}},
	} {
		b.Run(c.name, func(b *testing.B) { pair(b, c.persist, c.rawF) })
	}
}

// BenchmarkFindScan reads every run through a filter no index serves
// (duration_ms >= 0 holds for all), persist against the raw statement.
func BenchmarkFindScan(b *testing.B) {
	ctx := context.Background()
	n := runRows()
	s, raw := runsFixture(b, n)
	st, err := raw.PrepareContext(ctx, `SELECT id, data, revision, created_at, updated_at FROM rawruns
WHERE json_extract(data, '$.duration_ms') >= ?`)
	if err != nil {
		b.Fatal(err)
	}
	q := persist.Where("duration_ms", ">=", 0)
	pair(b, func(b *testing.B) {
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
			rows, err := st.QueryContext(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for rows.Next() {
				var rec persist.Record
				var c, u int64
				if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u); err != nil {
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
// (persist) against Put into one without (raw here meaning "no index").
func BenchmarkPutIndexed(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "put.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	plain, _ := db.Store("plain")
	indexed, _ := db.Store("indexed")
	for _, idx := range runIndexes {
		if err := persist.EnsureIndex(ctx, indexed, idx); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := plain.Count(ctx); err != nil {
		b.Fatal(err)
	}
	put := func(s persist.Store) func(b *testing.B) {
		return func(b *testing.B) {
			for i := range b.N {
				if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("r%d-%d", b.N, i), Data: []byte(runDoc(i))}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	pair(b, put(indexed), put(plain))
}
