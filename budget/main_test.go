package budget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	"github.com/persistkit/persist/internal/pgtest"
	_ "github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backend opens a fresh, empty database of one kind and returns its URL,
// which other processes can open too.
type backend struct {
	name string
	url  func(tb testing.TB) string
}

var backends = []backend{
	{"SQLite", sqliteURL},
	{"Postgres", postgresURL},
}

// forEachBackend runs f as one subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, url string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.url(t)) })
	}
}

// sqliteURL names a new database file in the test's temporary directory.
func sqliteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite:///" + filepath.Join(tb.TempDir(), "budget.db")
}

// postgresURL returns the test database with a new schema as its
// search_path, dropped when the test ends (see pgtest).
func postgresURL(tb testing.TB) string {
	tb.Helper()
	base := pgtest.URL(tb)
	return pgtest.WithSearchPath(tb, base, pgtest.Schema(tb, base, "budget_test_"), nil)
}

// mustOpen opens url, closed when the test ends.
func mustOpen(tb testing.TB, url string) persist.DB {
	tb.Helper()
	db, err := persist.Open(context.Background(), url, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustLedger returns a Ledger on db.
func mustLedger(tb testing.TB, db persist.DB, opts *budget.Options) *budget.Ledger {
	tb.Helper()
	l, err := budget.New(db, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return l
}

// mustSet sets a budget.
func mustSet(tb testing.TB, l *budget.Ledger, b budget.Budget) {
	tb.Helper()
	if err := l.SetBudget(context.Background(), b); err != nil {
		tb.Fatalf("SetBudget(%v): %v", b, err)
	}
}

// mustReserve reserves est and fails the test if it is not admitted.
func mustReserve(tb testing.TB, l *budget.Ledger, s budget.Scopes, est budget.Micros) *budget.Reservation {
	tb.Helper()
	r, err := l.Reserve(context.Background(), budget.Request{Scopes: s, Estimate: est})
	if err != nil {
		tb.Fatalf("Reserve(%v, %v): %v", s, est, err)
	}
	return r
}

// usage returns scope's spend in the current period.
func usage(tb testing.TB, l *budget.Ledger, s budget.Scope, p budget.Period) budget.Spend {
	tb.Helper()
	u, err := l.Spend(context.Background(), s, p, time.Time{})
	if err != nil {
		tb.Fatalf("Usage(%v, %v): %v", s, p, err)
	}
	return u
}

// m parses an amount.
func m(tb testing.TB, s string) budget.Micros {
	tb.Helper()
	v, err := budget.ParseMicros(s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// snapshot returns every record of the ledger's tables with default names,
// as "table/id" -> revision and data, to prove that a call changed nothing.
func snapshot(tb testing.TB, db persist.DB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, name := range []string{"budget_limits", "budget_counters", "budget_holds", "llm_requests"} {
		s, err := db.Store(name)
		if err != nil {
			tb.Fatal(err)
		}
		for rec, err := range s.List(context.Background(), nil) {
			if err != nil {
				tb.Fatal(err)
			}
			out[name+"/"+rec.ID] = fmt.Sprintf("%s@%d", rec.Data, rec.Revision)
		}
	}
	return out
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		tb.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
