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
	persisttest.TestSharedTables(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
		path := filepath.Join(t.TempDir(), "shared.db")
		lg := sqlitetest.OpenLegacy(t, path)
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	})
}
