package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/internal/sqlitetest"

	_ "github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
)

// mustOpenSQLite opens a new SQLite database file in a temporary directory.
func mustOpenSQLite(tb testing.TB) persist.DB {
	tb.Helper()
	return mustOpenURL(tb, sqliteURL(filepath.Join(tb.TempDir(), "db.sqlite")))
}

func sqliteURL(path string) string { return "sqlite:///" + path }

func mustOpenURL(tb testing.TB, u string) persist.DB {
	tb.Helper()
	db, err := persist.Open(context.Background(), u, nil)
	if err != nil {
		tb.Fatalf("Open(%s): %v", persist.Redact(u), err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// postgresURL returns a URL for a new schema of its own on the test server,
// dropped on cleanup (see pgtest).
func postgresURL(tb testing.TB) string {
	tb.Helper()
	base := pgtest.URL(tb)
	return pgtest.WithSearchPath(tb, base, pgtest.Schema(tb, base, "migrate_test_"), nil)
}

func mustOpenPostgres(tb testing.TB) persist.DB {
	tb.Helper()
	return mustOpenURL(tb, postgresURL(tb))
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

// mustPut writes each document (a JSON object) under its id with Put, so
// the records get revisions and timestamps from the store.
func mustPut(tb testing.TB, db persist.DB, table string, docs ...string) {
	tb.Helper()
	s := mustStore(tb, db, table)
	for i := 0; i+1 < len(docs); i += 2 {
		if _, err := s.Put(context.Background(), persist.Record{ID: docs[i], Data: json.RawMessage(docs[i+1])}); err != nil {
			tb.Fatalf("Put(%s/%s): %v", table, docs[i], err)
		}
	}
}

// mustSeed inserts n generated records into table in batches, then
// updates every seventh so revisions differ from 1.
func mustSeed(tb testing.TB, db persist.DB, table string, n int) {
	tb.Helper()
	ctx := context.Background()
	s := mustStore(tb, db, table)
	recs := make([]persist.Record, 0, n)
	for i := range n {
		// Ids in a different order than insertion, to exercise the merge.
		id := fmt.Sprintf("r-%05d", (i*7919)%n)
		recs = append(recs, persist.Record{ID: id, Data: json.RawMessage(fmt.Sprintf(
			`{"n":%d,"name":"run %d ✓","nested":{"ok":%t,"list":[1,2.5,"ü"]},"big":12345678901234567890}`, i, i, i%2 == 0))})
	}
	if _, err := s.InsertMany(ctx, recs); err != nil {
		tb.Fatalf("InsertMany(%s): %v", table, err)
	}
	for i := 0; i < n; i += 7 {
		if _, err := s.Update(ctx, persist.Record{ID: recs[i].ID, Data: json.RawMessage(`{"touched":true}`)}); err != nil {
			tb.Fatalf("Update(%s/%s): %v", table, recs[i].ID, err)
		}
	}
}

// dump lists a whole table in insertion order.
func dump(tb testing.TB, db persist.DB, table string) []persist.Record {
	tb.Helper()
	var out []persist.Record
	for rec, err := range mustStore(tb, db, table).List(context.Background(), nil) {
		if err != nil {
			tb.Fatalf("List(%s): %v", table, err)
		}
		out = append(out, rec)
	}
	return out
}

// mustEqualTables checks that two tables hold the same records in the same
// order with the same metadata. With exact, data must be byte-identical
// (same backend); otherwise canonical JSON must be (JSONB rewrites text).
func mustEqualTables(tb testing.TB, a, b persist.DB, table string, exact bool) {
	tb.Helper()
	ra, rb := dump(tb, a, table), dump(tb, b, table)
	if len(ra) != len(rb) {
		tb.Fatalf("%s: %d records, want %d", table, len(rb), len(ra))
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		if x.ID != y.ID {
			tb.Fatalf("%s[%d]: ID=%q, want %q (order not kept)", table, i, y.ID, x.ID)
		}
		if x.Revision != y.Revision || !x.Created.Equal(y.Created) || !x.Updated.Equal(y.Updated) {
			tb.Fatalf("%s/%s: revision/created/updated = %d/%v/%v, want %d/%v/%v", table, x.ID,
				y.Revision, y.Created, y.Updated, x.Revision, x.Created, x.Updated)
		}
		if exact {
			if !bytes.Equal(x.Data, y.Data) {
				tb.Fatalf("%s/%s: Data=%s, want %s", table, x.ID, y.Data, x.Data)
			}
			continue
		}
		cx, err := jsonx.Canonical(x.Data)
		if err != nil {
			tb.Fatal(err)
		}
		cy, err := jsonx.Canonical(y.Data)
		if err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(cx, cy) {
			tb.Fatalf("%s/%s: canonical Data=%s, want %s", table, x.ID, cy, cx)
		}
	}
}

// suiteDocs returns JSONTestSuite's y_ documents (every one a parser must
// accept) wrapped as {"doc": ...}, keyed by file name, skipping the ones
// whose strings decode to U+0000, which no backend can store.
func suiteDocs(tb testing.TB) (ids []string, docs map[string]string) {
	tb.Helper()
	var dir string
	for _, d := range []string{
		filepath.Join("..", "persisttest", "testdata", "jsontestsuite"),
		filepath.Join("..", "..", "shared", "testdata", "jsontestsuite", "test_parsing"),
	} {
		if _, err := os.Stat(d); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("JSONTestSuite not found")
		}
		tb.Skip("JSONTestSuite not found")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	docs = map[string]string{}
	skipped := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "y_") || !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		doc := `{"doc":` + string(b) + "}"
		if err := jsonx.ValidateObject([]byte(doc)); err != nil {
			if !strings.Contains(err.Error(), `\u0000`) {
				tb.Fatalf("%s rejected: %v", name, err)
			}
			skipped++
			continue
		}
		docs[name] = doc
		ids = append(ids, name)
	}
	if skipped > 3 || len(ids) < 90 {
		tb.Fatalf("JSONTestSuite: %d y_ documents, %d skipped for U+0000", len(ids), skipped)
	}
	slices.Sort(ids)
	return ids, docs
}

// mustPutSuite stores every suite document in table.
func mustPutSuite(tb testing.TB, db persist.DB, table string) int {
	tb.Helper()
	ids, docs := suiteDocs(tb)
	for _, id := range ids {
		mustPut(tb, db, table, id, docs[id])
	}
	return len(ids)
}

// seedPortalFile writes a table in the earlier portal's layout (see
// sqlitetest.SeedLegacy).
func seedPortalFile(tb testing.TB, path, table string, rows ...string) {
	tb.Helper()
	sqlitetest.SeedLegacy(tb, path, table, rows...)
}

func mustCount(tb testing.TB, db persist.DB, table string) int64 {
	tb.Helper()
	n, err := mustStore(tb, db, table).Count(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func mustTables(tb testing.TB, db persist.DB) []string {
	tb.Helper()
	t, err := db.Tables(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return t
}
