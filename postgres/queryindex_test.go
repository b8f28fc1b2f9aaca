package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// useTable creates or opens table through db, which builds or keeps its
// indexes as db's QueryIndex says.
func useTable(tb testing.TB, db persist.DB, table string) {
	tb.Helper()
	if _, err := mustStore(tb, db, table).Count(context.Background()); err != nil {
		tb.Fatalf("Count(%s): %v", table, err)
	}
}

func TestQueryIndex_URLParameter(t *testing.T) {
	ctx := t.Context()
	yes, no := true, false
	t.Run("InvalidValue", func(t *testing.T) {
		// Parsing fails before any connection, so no server is needed.
		for _, bad := range []string{
			"postgres://app:hunter2secret@127.0.0.1/db?query_index=bogus",
			"postgresql+psycopg2://app:hunter2secret@127.0.0.1/db?sslmode=disable&query_index=bogus",
			"host=127.0.0.1 user=app password=hunter2secret query_index=bogus",
		} {
			_, err := postgres.Open(ctx, bad)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("Open(%q) err=%v, want ErrInvalid", persist.Redact(bad), err)
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, "query_index") || !strings.Contains(msg, "bogus") {
				t.Errorf("Open(%q) err=%v, want the parameter and its value named", persist.Redact(bad), err)
			}
			if strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("error contains the password: %v", err)
			}
		}
	})

	// The server refuses a startup parameter it does not know, so Open
	// succeeding shows that query_index did not reach it.
	for _, c := range []struct {
		name     string
		param    string
		set      *bool // what code sets Config.QueryIndex to after the URL, if anything
		wantGIN  bool
		registry bool
	}{
		{name: "True", param: "true", wantGIN: true},
		{name: "One", param: "1", wantGIN: true},
		{name: "False", param: "false"},
		{name: "ZeroOverriddenByCode", param: "0", set: &yes, wantGIN: true},
		{name: "TrueOverriddenByCode", param: "true", set: &no},
		{name: "ThroughPersistOpen", param: "true", wantGIN: true, registry: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			schema := newSchema(t)
			u := withSearchPath(t, schema, map[string]string{"query_index": c.param})
			var db persist.DB
			var err error
			if c.registry {
				db, err = persist.Open(ctx, u, nil)
			} else {
				db, err = openWith(ctx, u, func(cfg *postgres.Config) {
					if c.set != nil {
						cfg.QueryIndex = *c.set
					}
				})
			}
			if err != nil {
				t.Fatalf("Open with query_index=%s: %v", c.param, err)
			}
			defer db.Close()
			useTable(t, db, "events")
			if got := hasGIN(t, schema, "events"); got != c.wantGIN {
				t.Fatalf("GIN index on a new table = %v, want %v", got, c.wantGIN)
			}
		})
	}
}

// TestQueryIndex_ExistingTables checks that the option adds the index to
// tables created without it, and that a DB without the option neither
// creates nor drops it, except for the bulk load of an empty table, whose
// finish restores it.
func TestQueryIndex_ExistingTables(t *testing.T) {
	ctx := t.Context()
	schema := newSchema(t)
	open := func(queryIndex bool) *postgres.DB {
		t.Helper()
		db, err := openWith(ctx, testURL(t), func(c *postgres.Config) { c.Schema = schema; c.QueryIndex = queryIndex })
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	plain := open(false)
	for _, table := range []string{"full", "empty"} {
		useTable(t, plain, table)
		if hasGIN(t, schema, table) {
			t.Fatalf("GIN index on %s, created without QueryIndex", table)
		}
	}
	if _, err := mustStore(t, plain, "full").Put(ctx, persist.Record{ID: "a", Data: []byte(`{"k":1}`)}); err != nil {
		t.Fatal(err)
	}

	indexed := open(true)
	for _, table := range []string{"full", "empty"} {
		useTable(t, indexed, table)
		if !hasGIN(t, schema, table) {
			t.Fatalf("GIN index missing on %s after a DB with QueryIndex used it", table)
		}
	}

	// A new DB, so that its first use of each table checks the layout.
	later := open(false)
	full := mustStore(t, later, "full")
	if _, err := full.Put(ctx, persist.Record{ID: "b", Data: []byte(`{"k":2}`)}); err != nil {
		t.Fatal(err)
	}
	if !hasGIN(t, schema, "full") {
		t.Fatal("a DB without QueryIndex dropped the GIN index of a table with rows")
	}
	empty := mustStore(t, later, "empty")
	finish := mustBegin(t, empty)
	if hasGIN(t, schema, "empty") {
		t.Fatal("GIN index kept during the bulk load of an empty table")
	}
	if _, err := empty.InsertMany(ctx, stamped(0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if !hasGIN(t, schema, "empty") {
		t.Fatal("finish did not restore the GIN index a DB without QueryIndex dropped for its bulk load")
	}
}
