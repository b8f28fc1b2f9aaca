// Package pgtest holds what every package's PostgreSQL tests share: the
// PERSIST_TEST_POSTGRES rule (skip without it, fail under CI) and a schema
// of their own per test, dropped afterwards.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist/internal/ident"
)

// Env names the variable holding the test database's URL.
const Env = "PERSIST_TEST_POSTGRES"

// URL returns the test database's URL. Without it the test is skipped,
// naming the variable; with CI=true it fails instead, so CI can never pass
// by skipping.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Missing environment variable %v", Env)
		}
		tb.Skipf("Skipping due to missing environment variable %v", Env)
	}
	return u
}

// Schema creates an empty schema named prefix plus 12 random hex digits on
// the database base names and drops it, with everything in it, when the
// test ends.
func Schema(tb testing.TB, base, prefix string) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := prefix + hex.EncodeToString(b[:])
	Exec(tb, base, "CREATE SCHEMA "+ident.Quote(name))
	tb.Cleanup(func() { Exec(tb, base, "DROP SCHEMA IF EXISTS "+ident.Quote(name)+" CASCADE") })
	return name
}

// WithSearchPath returns base with schema as its search_path, plus any
// extra query parameters.
func WithSearchPath(tb testing.TB, base, schema string, params map[string]string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	for k, v := range params {
		q.Set(k, v)
	}
	// pgx reads '+' in a URL literally, so spaces are written as %20.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// Exec runs statements on a connection of its own, failing the test on
// any error.
func Exec(tb testing.TB, u string, sql ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
