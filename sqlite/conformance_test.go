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

func TestObserver(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		persisttest.TestObserver(t, func(t *testing.T, opts *persist.Options) persist.DB {
			cfg, err := sqlite.ParseConfig(filepath.Join(t.TempDir(), "observed.db"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Options = *opts
			db, err := sqlite.OpenConfig(t.Context(), cfg)
			if err != nil {
				t.Fatalf("OpenConfig: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("Memory", func(t *testing.T) {
		persisttest.TestObserver(t, func(t *testing.T, opts *persist.Options) persist.DB {
			db, err := persist.Open(t.Context(), "sqlite://:memory:", opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}
