package sqlite

import (
	"context"
	"database/sql"
	"testing"
)

// ConnPragmas reads the per-connection settings of the writer and of a
// reader, for tests in package sqlite_test.
func ConnPragmas(tb testing.TB, db *DB) map[string]map[string]int64 {
	tb.Helper()
	out := map[string]map[string]int64{}
	for name, pool := range map[string]*sql.DB{"writer": db.writer, "reader": db.readers} {
		p := map[string]int64{}
		for _, k := range []string{"synchronous", "busy_timeout", "foreign_keys", "query_only"} {
			var v int64
			if err := pool.QueryRowContext(context.Background(), "PRAGMA "+k).Scan(&v); err != nil {
				tb.Fatalf("%s: PRAGMA %s: %v", name, k, err)
			}
			p[k] = v
		}
		var mode string
		if err := pool.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil {
			tb.Fatalf("%s: PRAGMA journal_mode: %v", name, err)
		}
		if mode == "wal" {
			p["journal_mode_wal"] = 1
		}
		out[name] = p
	}
	return out
}
