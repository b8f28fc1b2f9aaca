package postgres_test

import (
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/postgres"
)

func TestSharedTables(t *testing.T) {
	testURL(t)
	persisttest.TestSharedTables(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
		u := withSearchPath(t, newSchema(t), nil)
		lg := pgtest.OpenLegacy(t, u)
		db, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	})
}
