package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/postgres"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// EnvTestURL names the database the tests use.
const envTestURL = "PERSIST_TEST_POSTGRES"

// testURL returns the test database URL, skipping the test when it is not
// configured (and failing under CI, which must never pass by skipping).
func testURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(envTestURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Missing environment variable %v", envTestURL)
		}
		tb.Skipf("Skipping due to missing environment variable %v", envTestURL)
	}
	return u
}

// newSchema creates an empty schema, dropped when the test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	u := testURL(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "persist_test_" + hex.EncodeToString(b[:])
	mustExec(tb, u, "CREATE SCHEMA "+ident.Quote(name))
	tb.Cleanup(func() { mustExec(tb, u, "DROP SCHEMA "+ident.Quote(name)+" CASCADE") })
	return name
}

// withSearchPath returns the test URL with the schema as its search_path
// and extra query parameters.
func withSearchPath(tb testing.TB, schema string, params map[string]string) string {
	tb.Helper()
	u, err := url.Parse(testURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx does not decode + as a space
	return u.String()
}

// mustExec runs statements on a connection of its own.
func mustExec(tb testing.TB, u string, sql ...string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
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
