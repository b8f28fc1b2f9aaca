package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/sqlite"
)

func TestLegacyUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")

	// The old portal's layout, written by plain database/sql, with ids
	// inserted in an order that differs from their sort order.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE sources (id TEXT PRIMARY KEY, data TEXT NOT NULL CHECK(json_valid(data)))`); err != nil {
		t.Fatal(err)
	}
	order := []string{"m", "c", "z", "a", "q"}
	for i, id := range order {
		if _, err := raw.Exec(`INSERT INTO sources (id, data) VALUES (?, ?)`, id, fmt.Sprintf(`{"i": %d, "big": 12345678901234567890}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("ListedBeforeUpgrade", func(t *testing.T) {
		tables, err := db.Tables(ctx)
		if err != nil || !slices.Equal(tables, []string{"sources"}) {
			t.Fatalf("Tables=%v, %v; want [sources]", tables, err)
		}
	})

	s := MustStore(t, db, "sources")

	t.Run("OrderKept", func(t *testing.T) {
		if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, order) {
			t.Fatalf("List=%v, want %v", got, order)
		}
	})
	t.Run("Readable", func(t *testing.T) {
		rec, err := s.Get(ctx, "z")
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"i": 2, "big": 12345678901234567890}`; string(rec.Data) != want {
			t.Fatalf("Data=%s, want %s", rec.Data, want)
		}
		if rec.Revision != 1 || rec.Created.IsZero() {
			t.Fatalf("Revision=%d Created=%v, want 1 and a time", rec.Revision, rec.Created)
		}
	})
	t.Run("Writable", func(t *testing.T) {
		rec, err := s.Put(ctx, persist.Record{ID: "c", Data: []byte(`{"i":"new"}`), Revision: 1})
		if err != nil || rec.Revision != 2 {
			t.Fatalf("Put=%+v, %v; want revision 2", rec, err)
		}
		MustPut(t, s, "b", `{}`)
		want := append(slices.Clone(order), "b")
		if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, want) {
			t.Fatalf("List=%v, want %v", got, want)
		}
	})
	t.Run("QueryExact", func(t *testing.T) {
		got := IDs(t, s.Query(ctx, []byte(`{"big": 12345678901234567890, "i": 4}`), nil))
		if !slices.Equal(got, []string{"q"}) {
			t.Fatalf("Query=%v, want [q]", got)
		}
	})
	t.Run("UpgradedOnceAndReopens", func(t *testing.T) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db2, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		n, err := MustStore(t, db2, "sources").Count(ctx)
		if err != nil || n != 6 {
			t.Fatalf("Count=%d, %v; want 6", n, err)
		}
		tables, err := db2.Tables(ctx)
		if err != nil || !slices.Equal(tables, []string{"sources"}) {
			t.Fatalf("Tables=%v, %v; want [sources]", tables, err)
		}
	})
}

func TestStore_ForeignTableErrInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE users (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store("users")
	if err != nil {
		t.Fatalf("Store(users): %v", err)
	}
	if _, err := s.Get(context.Background(), "a"); !errors.Is(err, persist.ErrInvalid) {
		t.Fatalf("Get on users=%v, want ErrInvalid", err)
	}
	if tables, err := db.Tables(context.Background()); err != nil || len(tables) != 0 {
		t.Fatalf("Tables=%v, %v; want none", tables, err)
	}
}

// TestLegacyWritersOnTableFromPersist01 opens a table as persist 0.1
// created it (seq NOT NULL, timestamps without defaults), which refused the
// earlier portal's inserts, and checks that it is rebuilt once, keeping
// every row, its place, revision and times, and then takes their writes.
func TestLegacyWritersOnTableFromPersist01(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v01.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range []string{
		`CREATE TABLE persist_meta (table_name TEXT PRIMARY KEY, layout_version INTEGER NOT NULL)`,
		`INSERT INTO persist_meta VALUES ('runs', 1)`,
		`CREATE TABLE "runs" (
	id TEXT PRIMARY KEY,
	data TEXT NOT NULL CHECK(json_valid(data)),
	seq INTEGER NOT NULL,
	revision INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
)`,
		`CREATE UNIQUE INDEX "runs:seq" ON "runs" (seq)`,
		// Insertion order differs from rowid and id order.
		`INSERT INTO runs VALUES ('m', '{"n":1}', 30, 4, 1000, 2000)`,
		`INSERT INTO runs VALUES ('a', '{"n":2}', 10, 1, 1000, 1000)`,
		`INSERT INTO runs VALUES ('z', '{"n":3}', 20, 2, 1000, 3000)`,
	} {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO runs (id, data) VALUES ('before', '{}')`); err == nil {
		t.Fatal("the 0.1 layout took an insert of (id, data); the test no longer shows the rebuild is needed")
	}

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := MustStore(t, db, "runs")
	if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, []string{"a", "z", "m"}) {
		t.Fatalf("List=%v, want [a z m]", got)
	}
	rec, err := s.Get(ctx, "m")
	if err != nil || rec.Revision != 4 || rec.Created.UnixMicro() != 1000 || rec.Updated.UnixMicro() != 2000 {
		t.Fatalf("Get(m)=%+v, %v; want revision 4, times kept", rec, err)
	}
	if _, err := raw.Exec(`INSERT OR REPLACE INTO runs (id, data) VALUES ('p1', '{"id":"p1"}')`); err != nil {
		t.Fatalf("earlier insert after the rebuild: %v", err)
	}
	if _, err := raw.Exec(`INSERT OR REPLACE INTO runs (id, data) VALUES ('a', '{"id":"a"}')`); err != nil {
		t.Fatal(err)
	}
	if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, []string{"a", "z", "m", "p1"}) {
		t.Fatalf("List=%v, want [a z m p1]", got)
	}
	if rec, err := s.Get(ctx, "a"); err != nil || rec.Revision != 2 {
		t.Fatalf("a replaced: revision %d, %v; want 2", rec.Revision, err)
	}
	// A second open finds nothing to do.
	db.Close()
	db2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if n, err := MustStore(t, db2, "runs").Count(ctx); err != nil || n != 4 {
		t.Fatalf("Count=%d, %v; want 4", n, err)
	}
}

// TestLegacyWritersOnIndexedTable has the earlier portal's kind of writer,
// the sqlite3 command (another SQLite library, without any function
// persist registers), insert, update and delete through raw SQL on (id,
// data) in a table with a declared index, while persist reads through the
// index. Every write must succeed, the index must stay consistent
// (integrity_check compares each entry with its expression), and the
// index-served query must see exactly the rows a scan sees.
func TestLegacyWritersOnIndexedTable(t *testing.T) {
	bin := sqlitetest.CLI(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := MustStore(t, db, "runs")
	for i := range 20 {
		doc := fmt.Sprintf(`{"pipeline":"p%d","status":"ok","n":%d}`, i%3, i)
		if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("r%02d", i), Data: []byte(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	idx := persist.Index{Name: "by_pipeline_n", Fields: []persist.Sort{{Path: "pipeline"}, {Path: "n", Dir: persist.Desc}}}
	if err := persist.EnsureIndex(ctx, s, idx); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableFeed(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	cursor, err := db.Cursor(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}

	legacy := `INSERT INTO runs (id, data) VALUES ('x1', '{"pipeline":"p1","status":"failed","n":12345678901234567891}');
INSERT INTO runs (id, data) VALUES ('x2', '{"pipeline":"p1","status":"failed","n":-1.50}');
INSERT INTO runs (id, data) VALUES ('x3', '{"pipeline":"p1","n":"text"}');
INSERT INTO runs (id, data) VALUES ('x4', '{"pipeline":"p1"}');
UPDATE runs SET data = '{"pipeline":"p1","status":"failed","n":1e2}' WHERE id = 'r00';
UPDATE runs SET data = '{"pipeline":"p2","status":"failed","n":12345678901234567890}' WHERE id = 'r01';
DELETE FROM runs WHERE id = 'r04';
`
	cmd := exec.Command(bin, path)
	cmd.Stdin = strings.NewReader(".timeout 5000\n" + legacy)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("the earlier portal's writes on an indexed table: %v\n%s", err, out)
	}

	q := persist.Where("pipeline", "==", "p1").OrderBy("n", persist.Desc)
	plan, err := persist.Explain(ctx, s, q)
	if err != nil || !plan.Indexed {
		t.Fatalf("Explain = %+v, %v; want an index-served plan", plan, err)
	}
	got := IDs(t, s.Find(ctx, q))
	// Strings rank above numbers, a missing field below everything; among
	// numbers 12345678901234567891 > 1e2 > 19 > 16 > ... > -1.50, exactly.
	want := []string{"x3", "x1", "r00", "r19", "r16", "r13", "r10", "r07", "x2", "x4"}
	if !slices.Equal(got, want) {
		t.Fatalf("Find through the index = %v, want %v", got, want)
	}
	var check string
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	rec, err := s.Get(ctx, "x1")
	if err != nil || rec.Revision != 1 || rec.Created.IsZero() || time.Since(rec.Updated) > time.Minute {
		t.Fatalf("Get(x1) = %+v, %v; want the earlier portal's row, numbered and timed by the triggers", rec, err)
	}
	var changes []string
	for c, err := range db.Changes(ctx, cursor, nil) {
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, c.Op.String()+" "+c.ID)
	}
	wantChanges := []string{"insert x1", "insert x2", "insert x3", "insert x4", "update r00", "update r01", "delete r04"}
	if !slices.Equal(changes, wantChanges) {
		t.Fatalf("the feed after the earlier portal's writes = %v, want %v", changes, wantChanges)
	}
}
