package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/sqlite"
)

func TestSharedTables(t *testing.T) {
	persisttest.TestSharedTables(t, openShared(func(t *testing.T, path string) persisttest.Legacy {
		return sqlitetest.OpenLegacy(t, path)
	}))
}

// TestSharedTablesOtherSQLite runs the same contract with the sqlite3
// command as the earlier portal's writer: another, possibly older, SQLite
// library than the one persist links, without persist's functions.
func TestSharedTablesOtherSQLite(t *testing.T) {
	persisttest.TestSharedTables(t, openShared(func(t *testing.T, path string) persisttest.Legacy {
		return sqlitetest.OpenLegacyCLI(t, path)
	}))
}

// openShared opens a new file with persist and with the writer legacy
// makes.
func openShared(legacy func(t *testing.T, path string) persisttest.Legacy) func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
	return func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
		path := filepath.Join(t.TempDir(), "shared.db")
		lg := legacy(t, path)
		cfg, err := sqlite.ParseConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.IDField = idField
		db, err := sqlite.OpenConfig(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	}
}

// TestStaleTriggersRenewed opens a file whose triggers compute times with
// unixepoch('subsec'), as an earlier build of this package wrote them,
// which SQLite before 3.42 evaluates to NULL: opening the table must
// create them again in the current form.
func TestStaleTriggersRenewed(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "stale.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Store("runs"); err != nil {
		t.Fatal(err)
	}
	if err := db.EnableFeed(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	stale := func() int {
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND sql LIKE '%subsec%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows, err := raw.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'runs'`)
	if err != nil {
		t.Fatal(err)
	}
	var triggers [][2]string
	for rows.Next() {
		var tr [2]string
		if err := rows.Scan(&tr[0], &tr[1]); err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, tr)
	}
	rows.Close()
	if len(triggers) != 6 {
		t.Fatalf("%d triggers on runs, want 3 shared and 3 feed ones", len(triggers))
	}
	for _, tr := range triggers {
		old := regexp.MustCompile(`\(CAST\(strftime[^\n]*?\* 1000\)`).ReplaceAllString(tr[1], `CAST(unixepoch('subsec') * 1000000 AS INTEGER)`)
		if _, err := raw.ExecContext(ctx, `DROP TRIGGER "`+tr[0]+`"`); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := stale(); n != 5 {
		t.Fatalf("%d stale triggers written, want the 5 that read the time", n)
	}

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store("runs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "a", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if n := stale(); n != 0 {
		t.Fatalf("%d stale triggers after opening the table, want 0", n)
	}
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'runs'`).Scan(&n); err != nil || n != 6 {
		t.Fatalf("%d triggers after opening the table (%v), want 6", n, err)
	}
}
