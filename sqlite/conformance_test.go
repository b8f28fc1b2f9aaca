package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/sqlite"
)

func TestConformance(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		persisttest.TestStore(t, func(t *testing.T) persist.DB {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "conformance.db"))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("Memory", func(t *testing.T) {
		persisttest.TestStore(t, func(t *testing.T) persist.DB {
			db, err := persist.Open(context.Background(), "sqlite://:memory:", nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}
