package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	closeBenchFixture()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// MustOpen opens a fresh database file in a temporary directory and closes
// it when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustStore returns the named store of db.
func MustStore(tb testing.TB, db persist.DB, name string) persist.Store {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%q): %v", name, err)
	}
	return s
}

// MustPut stores data under id.
func MustPut(tb testing.TB, s persist.Store, id, data string) persist.Record {
	tb.Helper()
	rec, err := s.Put(context.Background(), persist.Record{ID: id, Data: []byte(data)})
	if err != nil {
		tb.Fatalf("Put(%q): %v", id, err)
	}
	return rec
}

// IDs collects the ids an iterator yields, failing on an error.
func IDs(tb testing.TB, seq func(func(persist.Record, error) bool)) []string {
	tb.Helper()
	var ids []string
	for rec, err := range seq {
		if err != nil {
			tb.Fatalf("iterate: %v", err)
		}
		ids = append(ids, rec.ID)
	}
	return ids
}
