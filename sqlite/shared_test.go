package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/sqlite"
)

func TestSharedTables(t *testing.T) {
	persisttest.TestSharedTables(t, func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
		path := filepath.Join(t.TempDir(), "shared.db")
		lg := sqlitetest.OpenLegacy(t, path)
		cfg, err := sqlite.ParseConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.IDField = idField
		db, err := sqlite.OpenConfig(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	})
}
