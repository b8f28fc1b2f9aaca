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
	persisttest.TestSharedTables(t, func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
		schema := newSchema(t)
		lg := pgtest.OpenLegacy(t, withSearchPath(t, schema, nil))
		var params map[string]string
		if idField != "" {
			params = map[string]string{"id_field": idField} // through the URL, as a service sets it
		}
		db, err := postgres.Open(t.Context(), withSearchPath(t, schema, params))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	})
}
