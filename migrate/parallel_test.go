package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"
)

// TestCopy_Parallel copies six tables three at a time, to SQLite and to
// PostgreSQL. Each table's migration waits, as it starts, until three
// have started, which only a copy running three at once lets happen; the
// report and the targets must then be the same as a copy one table at a
// time gives.
func TestCopy_Parallel(t *testing.T) {
	const parallel = 3
	src := mustOpenSQLite(t)
	var tables []string
	for i := range 6 {
		name := fmt.Sprintf("t%d", i)
		tables = append(tables, name)
		mustSeed(t, src, name, 300+100*i)
	}
	for _, target := range sources {
		t.Run(target.name, func(t *testing.T) {
			seq, par := target.open(t), target.open(t)
			want := mustCopy(t, src, seq, &migrate.Options{BatchSize: 64})

			var mu sync.Mutex
			var n int
			all := make(chan struct{})
			var timedOut bool
			r, err := migrate.CopyStarting(context.Background(), src, par, &migrate.Options{BatchSize: 64, Parallel: parallel},
				func(string) {
					mu.Lock()
					if n++; n == parallel {
						close(all)
					}
					first := n <= parallel
					mu.Unlock()
					if !first {
						return
					}
					// A guard against a hang, not a timing assertion: a
					// sequential copy never gets past the first table.
					select {
					case <-all:
					case <-time.After(time.Minute):
						mu.Lock()
						timedOut = true
						mu.Unlock()
					}
				})
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if timedOut {
				t.Fatalf("the first %d tables did not run at once", parallel)
			}
			if len(r.Tables) != len(want.Tables) {
				t.Fatalf("%d tables reported, want %d", len(r.Tables), len(want.Tables))
			}
			for i := range want.Tables {
				g, w := r.Tables[i], want.Tables[i]
				if g.Table != w.Table || !sameCounts(g.Counts, w.Counts) || g.Verified != w.Verified || g.SourceChanged != w.SourceChanged {
					t.Errorf("table %d: %s %+v, want %s %+v", i, g.Table, g.Counts, w.Table, w.Counts)
				}
			}
			if !sameCounts(r.Totals, want.Totals) {
				t.Errorf("totals %+v, want %+v", r.Totals, want.Totals)
			}
			for _, name := range tables {
				mustEqualTables(t, seq, par, name, true)
			}
		})
	}
}

// sameCounts compares two Counts but for the time spent.
func sameCounts(a, b migrate.Counts) bool {
	a.ElapsedSeconds, b.ElapsedSeconds = 0, 0
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// TestCopy_ParallelStopsOnError cancels a parallel copy from Progress: it
// stops every table under way, starts no more, and reports the tables it
// started in order.
func TestCopy_ParallelStopsOnError(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	for i := range 5 {
		mustSeed(t, src, fmt.Sprintf("t%d", i), 2000)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := migrate.Copy(ctx, src, dst, &migrate.Options{BatchSize: 100, Parallel: 2, Progress: func(p migrate.Progress) {
		if p.Table == "t1" && p.Done >= 500 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Copy error = %v, want context.Canceled", err)
	}
	if len(r.Tables) == 0 || len(r.Tables) > 3 {
		t.Fatalf("%d tables reported, want the 2 or 3 started", len(r.Tables))
	}
	for i, tr := range r.Tables {
		if tr.Table != fmt.Sprintf("t%d", i) {
			t.Fatalf("table %d is %s", i, tr.Table)
		}
	}
}

func TestCopy_ParallelInvalid(t *testing.T) {
	src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
	for _, p := range []int{-1, migrate.MaxParallel + 1} {
		if _, err := migrate.Copy(context.Background(), src, dst, &migrate.Options{Parallel: p}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Parallel %d: error %v, want ErrInvalid", p, err)
		}
	}
	for _, p := range []int{1, migrate.MaxParallel} {
		if _, err := migrate.Copy(context.Background(), src, dst, &migrate.Options{Parallel: p}); err != nil {
			t.Errorf("Parallel %d: %v", p, err)
		}
	}
}
