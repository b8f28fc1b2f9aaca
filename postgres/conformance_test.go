package postgres_test

import (
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/postgres"
)

func TestConformance(t *testing.T) {
	testURL(t)
	persisttest.TestStore(t, func(t *testing.T) persist.DB {
		// Cleanups run last-in first-out: Close, then the schema drop.
		schema := newSchema(t)
		db, err := postgres.Open(t.Context(), withSearchPath(t, schema, nil))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if got := db.Schema(); got != schema {
			t.Fatalf("Schema()=%q, want %q", got, schema)
		}
		return db
	})
}

func TestObserver(t *testing.T) {
	testURL(t)
	persisttest.TestObserver(t, func(t *testing.T, opts *persist.Options) persist.DB {
		schema := newSchema(t)
		db, err := persist.Open(t.Context(), withSearchPath(t, schema, nil), opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
