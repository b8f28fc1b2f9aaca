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

// openWith opens u as ParseConfig and OpenConfig do, after edit (if not
// nil) has changed the Config.
func openWith(ctx context.Context, u string, edit func(c *postgres.Config)) (*postgres.DB, error) {
	cfg, err := postgres.ParseConfig(u)
	if err != nil {
		return nil, err
	}
	if edit != nil {
		edit(cfg)
	}
	return postgres.OpenConfig(ctx, cfg)
}

// mustOpen opens a DB on a fresh schema, closed when the test ends; edit,
// if not nil, changes the Config first.
func mustOpen(tb testing.TB, edit func(c *postgres.Config)) (*postgres.DB, string) {
	tb.Helper()
	schema := newSchema(tb)
	db, err := openWith(context.Background(), testURL(tb), func(c *postgres.Config) {
		if edit != nil {
			edit(c)
		}
		c.Schema = schema
	})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, schema
}
