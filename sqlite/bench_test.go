package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

// The benchmarks compare each operation through persist with the same SQL
// issued through plain database/sql on modernc.org/sqlite, with the same
// PRAGMAs, connection setup and prepared statements, on one file holding
// benchRecords records built once per test binary run.
const benchRecords = 100_000

type benchFixture struct {
	dir     string
	db      *sqlite.DB
	store   persist.Store
	rawW    *sql.DB // raw writer: one connection, BEGIN IMMEDIATE
	rawR    *sql.DB // raw readers
	get     *sql.Stmt
	put     *sql.Stmt
	list    *sql.Stmt
	query   *sql.Stmt
	closers []func() error
}

var (
	fixtureOnce sync.Once
	fixture     *benchFixture
	fixtureErr  error
)

// Same SQL as the store's, for the raw side.
const (
	rawGet = `SELECT data, revision, created_at, updated_at FROM "bench" WHERE id = ?`
	rawPut = `INSERT INTO "bench" (id, data, seq, revision, created_at, updated_at)
VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "bench"), 1, ?3, ?3)
ON CONFLICT (id) DO UPDATE SET data = excluded.data, revision = revision + 1, updated_at = excluded.updated_at
RETURNING revision, created_at`
	rawList  = `SELECT id, data, revision, created_at, updated_at, seq FROM "bench" WHERE seq > ? ORDER BY seq LIMIT ?`
	rawQuery = `SELECT id, data, revision, created_at, updated_at, seq FROM "bench" WHERE json_type(data, ?) = 'text' AND json_extract(data, ?) = ? ORDER BY seq`
)

// benchPuts is the number of records BenchmarkPut overwrites.
const benchPuts = 10_000

func benchID(i int) string { return fmt.Sprintf("rec-%06d", i) }
func putID(i int) string   { return fmt.Sprintf("put-%05d", i) }

func loadFixture(b *testing.B) *benchFixture {
	b.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixture
}

func buildFixture() (*benchFixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "persist-sqlite-bench-")
	if err != nil {
		return nil, err
	}
	f := &benchFixture{dir: dir}
	path := filepath.Join(dir, "bench.db")
	if f.db, err = sqlite.Open(ctx, path); err != nil {
		return f, err
	}
	f.closers = append(f.closers, f.db.Close)
	if f.store, err = f.db.Store("bench"); err != nil {
		return f, err
	}
	recs := make([]persist.Record, 0, benchRecords)
	for i := range benchRecords {
		recs = append(recs, persist.Record{ID: benchID(i), Data: []byte(fmt.Sprintf(
			`{"name":"record %d","group":%d,"kind":"k%d","active":true,"score":%d.5}`, i, i%100, i%100, i))})
	}
	// BenchmarkPut overwrites its own records, so that the data the other
	// benchmarks read stays as built.
	for i := range benchPuts {
		recs = append(recs, persist.Record{ID: putID(i), Data: []byte(`{"name":"put","kind":"put"}`)})
	}
	if _, err := f.store.InsertMany(ctx, recs); err != nil {
		return f, err
	}

	pragmas := "&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	f.rawW, _ = sql.Open("sqlite", "file:"+path+"?_txlock=immediate"+pragmas)
	f.rawW.SetMaxOpenConns(1)
	f.rawW.SetMaxIdleConns(1)
	f.rawR, _ = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	readers := max(4, runtime.GOMAXPROCS(0))
	f.rawR.SetMaxOpenConns(readers)
	f.rawR.SetMaxIdleConns(readers)
	f.closers = append(f.closers, f.rawR.Close, f.rawW.Close)
	for _, p := range []struct {
		db  *sql.DB
		q   string
		dst **sql.Stmt
	}{{f.rawR, rawGet, &f.get}, {f.rawW, rawPut, &f.put}, {f.rawR, rawList, &f.list}, {f.rawR, rawQuery, &f.query}} {
		if *p.dst, err = p.db.PrepareContext(ctx, p.q); err != nil {
			return f, err
		}
		f.closers = append([]func() error{(*p.dst).Close}, f.closers...)
	}
	return f, nil
}

// closeBenchFixture runs from TestMain, before the goroutine leak check.
func closeBenchFixture() {
	if fixture == nil {
		return
	}
	for _, c := range fixture.closers {
		c()
	}
	os.RemoveAll(fixture.dir)
}

// benchRounds is how many times each benchmark alternates its persist and
// raw halves (PERSIST_BENCH_ROUNDS, default 1). On a shared, noisy machine
// several alternating rounds make the ratio meaningful; later rounds are
// reported as persist#01, raw#01 and so on.
func benchRounds() int {
	n, err := strconv.Atoi(os.Getenv("PERSIST_BENCH_ROUNDS"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// pair runs the persist and raw variants for benchRounds, swapping which
// goes first every other round so that neither always inherits the warmer
// caches or the quieter moment.
func pair(b *testing.B, persistFn, rawFn func(b *testing.B)) {
	for i := range benchRounds() {
		if i%2 == 0 {
			b.Run("persist", withCPU(persistFn))
			b.Run("raw", withCPU(rawFn))
		} else {
			b.Run("raw", withCPU(rawFn))
			b.Run("persist", withCPU(persistFn))
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

// parallel4 runs body on 4 goroutines in total whatever GOMAXPROCS is
// (RunParallel starts parallelism × GOMAXPROCS).
func parallel4(b *testing.B, body func(pb *testing.PB, r *rand.Rand)) {
	b.SetParallelism(max(1, 4/runtime.GOMAXPROCS(0)))
	var seed sync.Mutex
	n := uint64(0)
	b.RunParallel(func(pb *testing.PB) {
		seed.Lock()
		n++
		r := rand.New(rand.NewPCG(n, 42))
		seed.Unlock()
		body(pb, r)
	})
}

func BenchmarkGet(b *testing.B) {
	f := loadFixture(b)
	ctx := context.Background()
	pair(b, func(b *testing.B) {
		parallel4(b, func(pb *testing.PB, r *rand.Rand) {
			for pb.Next() {
				if _, err := f.store.Get(ctx, benchID(r.IntN(benchRecords))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}, func(b *testing.B) {
		parallel4(b, func(pb *testing.PB, r *rand.Rand) {
			for pb.Next() {
				var data []byte
				var rev, c, u int64
				if err := f.get.QueryRowContext(ctx, benchID(r.IntN(benchRecords))).Scan(&data, &rev, &c, &u); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkPut(b *testing.B) {
	f := loadFixture(b)
	ctx := context.Background()
	doc := []byte(`{"name":"updated","kind":"put","active":false,"score":2.5}`)
	pair(b, func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if _, err := f.store.Put(ctx, persist.Record{ID: putID(r.IntN(benchPuts)), Data: doc}); err != nil {
				b.Fatal(err)
			}
		}
	}, func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			var rev, created int64
			if err := f.put.QueryRowContext(ctx, putID(r.IntN(benchPuts)), string(doc), time.Now().UnixMicro()).Scan(&rev, &created); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkList(b *testing.B) {
	f := loadFixture(b)
	ctx := context.Background()
	pair(b, func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, err := range f.store.List(ctx, &persist.ListOptions{Limit: 100}) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 100 {
				b.Fatalf("listed %d, want 100", n)
			}
		}
	}, func(b *testing.B) {
		for b.Loop() {
			rows, err := f.list.QueryContext(ctx, int64(-1<<63), 100)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var rec persist.Record
				var c, u, seq int64
				if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u, &seq); err != nil {
					b.Fatal(err)
				}
				rec.Created, rec.Updated = time.UnixMicro(c).UTC(), time.UnixMicro(u).UTC()
				n++
			}
			if err := rows.Close(); err != nil || n != 100 {
				b.Fatalf("listed %d, %v; want 100", n, err)
			}
		}
	})
}

// BenchmarkQuery scans the whole table for the 1% of records of one kind.
// The raw side reads them in one statement; persist reads pages of 256.
func BenchmarkQuery(b *testing.B) {
	f := loadFixture(b)
	ctx := context.Background()
	want := benchRecords / 100
	pair(b, func(b *testing.B) {
		filter := []byte(`{"kind":"k7"}`)
		for b.Loop() {
			n := 0
			for _, err := range f.store.Query(ctx, filter, nil) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != want {
				b.Fatalf("matched %d, want %d", n, want)
			}
		}
	}, func(b *testing.B) {
		for b.Loop() {
			rows, err := f.query.QueryContext(ctx, `$."kind"`, `$."kind"`, "k7")
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var rec persist.Record
				var c, u, seq int64
				if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u, &seq); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := rows.Close(); err != nil || n != want {
				b.Fatalf("matched %d, %v; want %d", n, err, want)
			}
		}
	})
}
