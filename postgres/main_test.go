package postgres_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/postgres"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testURL returns the test database URL (see pgtest.URL).
func testURL(tb testing.TB) string {
	tb.Helper()
	return pgtest.URL(tb)
}

// newSchema creates an empty schema, dropped when the test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	return pgtest.Schema(tb, testURL(tb), "persist_test_")
}

// withSearchPath returns the test URL with the schema as its search_path
// and extra query parameters.
func withSearchPath(tb testing.TB, schema string, params map[string]string) string {
	tb.Helper()
	return pgtest.WithSearchPath(tb, testURL(tb), schema, params)
}

// mustExec runs statements on a connection of its own.
func mustExec(tb testing.TB, u string, sql ...string) {
	tb.Helper()
	pgtest.Exec(tb, u, sql...)
}

// mustOpen opens a DB on a fresh schema, closed when the test ends.
func mustOpen(tb testing.TB, opts *postgres.Options) (*postgres.DB, string) {
	tb.Helper()
	schema := newSchema(tb)
	if opts == nil {
		opts = &postgres.Options{}
	}
	o := *opts
	o.Schema = schema
	db, err := postgres.Open(context.Background(), testURL(tb), &o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, schema
}
