package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/persistkit/persist"
)

const (
	fdCycles = 1000
	fdSlack  = 5
)

// openFDs counts this process's open file descriptors.
func openFDs(tb testing.TB) int {
	tb.Helper()
	runtime.GC()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// TestFDs opens, writes, reads and closes one SQLite file a thousand times:
// a descriptor kept by any of those steps (the database, its WAL and
// shared-memory files, a statement's cursor) would add up to hundreds.
// Goroutines left behind are caught by TestMain.
func TestFDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fds.db")
	cycle := func(i int) {
		db, err := persist.Open(ctx, sqliteURL(path), nil)
		if err != nil {
			t.Fatalf("cycle %d: Open: %v", i, err)
		}
		st, err := db.Store("fds")
		if err != nil {
			t.Fatalf("cycle %d: Store: %v", i, err)
		}
		id := fmt.Sprintf("r%d", i%10)
		data := json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		if _, err := st.Put(ctx, persist.Record{ID: id, Data: data}); err != nil {
			t.Fatalf("cycle %d: Put: %v", i, err)
		}
		got, err := st.Get(ctx, id)
		if err != nil {
			t.Fatalf("cycle %d: Get: %v", i, err)
		}
		mustEqualJSON(t, got.Data, data)
		for _, err := range st.List(ctx, &persist.ListOptions{Limit: 3}) {
			if err != nil {
				t.Fatalf("cycle %d: List: %v", i, err)
			}
			break // leave the iterator early: its rows must still be closed
		}
		if err := db.Close(); err != nil {
			t.Fatalf("cycle %d: Close: %v", i, err)
		}
	}
	cycle(-1) // first use: anything created once per process is not a leak
	before := openFDs(t)
	n := fdCycles
	if testing.Short() {
		n = 100
	}
	for i := range n {
		cycle(i)
	}
	after := openFDs(t)
	t.Logf("%d open/Put/Get/List/Close cycles: %d descriptors before, %d after", n, before, after)
	if after > before+fdSlack {
		t.Errorf("open file descriptors grew from %d to %d over %d cycles", before, after, n)
	}
}
