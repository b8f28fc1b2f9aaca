package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/persistkit/persist"

	"github.com/persistkit/persist/internal/pgtest"
	_ "github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
)

// envReport names the file that the fault and crash tests append their
// figures to, one JSON object per line, for RELIABILITY.md and CI logs.
const envReport = "PERSIST_RELIABILITY_REPORT"

// The debug records that announce a retry: internal/retry's, before each
// retry of the policy, and the PostgreSQL backend's, before it runs an
// operation again on another connection after a lost one (which spends no
// attempt of the policy).
const (
	retryMessage     = "persist: retrying transient error"
	reconnectMessage = "persist: connection lost; retrying on another connection"
)

// sqliteURL returns the persist URL of the SQLite file at the absolute path.
func sqliteURL(path string) string { return "sqlite:///" + path }

// mustOpen opens u and closes the DB when the test ends.
func mustOpen(tb testing.TB, u string, opts *persist.Options) persist.DB {
	tb.Helper()
	db, err := persist.Open(context.Background(), u, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", persist.Redact(u), err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustStore returns the named store or fails.
func mustStore(tb testing.TB, db persist.DB, name string) persist.Store {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%s): %v", name, err)
	}
	return s
}

// postgresBase returns PERSIST_TEST_POSTGRES (see pgtest.URL).
func postgresBase(tb testing.TB) string {
	tb.Helper()
	return pgtest.URL(tb)
}

// randomSuffix returns 12 hex digits, to keep names of concurrent runs apart.
func randomSuffix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// postgresSchemaURL creates a schema of the test's own on the server base
// names, drops it on cleanup, and returns a URL whose connections use it and
// carry application name app, so a test can find (and kill) exactly its own
// connections in pg_stat_activity.
func postgresSchemaURL(tb testing.TB, base, app string) string {
	tb.Helper()
	schema := pgtest.Schema(tb, base, "reliability_")
	return pgtest.WithSearchPath(tb, base, schema, map[string]string{"application_name": app})
}

// retryCounter is a slog.Handler that counts the retries persist
// announces, so the fault tests can report how often a retry saved a call.
type retryCounter struct{ policy, reconnect *atomic.Int64 }

func newRetryCounter() retryCounter {
	return retryCounter{policy: new(atomic.Int64), reconnect: new(atomic.Int64)}
}

func (c retryCounter) Enabled(context.Context, slog.Level) bool { return true }

func (c retryCounter) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case retryMessage:
		c.policy.Add(1)
	case reconnectMessage:
		c.reconnect.Add(1)
	}
	return nil
}

func (c retryCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c retryCounter) WithGroup(string) slog.Handler      { return c }

// writeReport logs figures and appends them as one JSON line to the file
// named by PERSIST_RELIABILITY_REPORT, when it is set.
func writeReport(tb testing.TB, figures any) {
	tb.Helper()
	line, err := json.Marshal(figures)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("figures: %s", line)
	name := os.Getenv(envReport)
	if name == "" {
		return
	}
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Errorf("%s: %v", envReport, err)
		return
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		tb.Errorf("%s: %v", envReport, err)
	}
}
