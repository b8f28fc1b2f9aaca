package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist/sqlite"
)

// TestPragmas reads the settings back through a second, plain connection
// for what is stored in the file, and through the store's own error
// behaviour for per-connection settings.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustPut(t, MustStore(t, db, "t"), "x", `{}`)

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode=%q, %v; want wal", mode, err)
	}

	got := sqlite.ConnPragmas(t, db)
	want := map[string]int64{"synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}
	for conn, p := range got {
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s: %s=%d, want %d", conn, k, p[k], v)
			}
		}
		if p["journal_mode_wal"] != 1 {
			t.Errorf("%s: journal_mode is not wal", conn)
		}
	}
	if got["reader"]["query_only"] != 1 || got["writer"]["query_only"] != 0 {
		t.Errorf("query_only: reader=%d writer=%d, want 1 and 0", got["reader"]["query_only"], got["writer"]["query_only"])
	}
}
