// Package sqlitetest writes SQLite files the way the earlier portal did, for
// the tests of code that must read them: plain database/sql, bypassing
// persist's validation, so a file can hold values SQLite's json_valid
// accepts but PostgreSQL cannot store.
package sqlitetest

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SeedLegacy creates table in the SQLite file at path in the earlier
// portal's layout, (id TEXT PRIMARY KEY, data TEXT NOT NULL
// CHECK(json_valid(data))), and inserts rows given as id, data pairs.
func SeedLegacy(tb testing.TB, path, table string, rows ...string) {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE "` + table + `" (id TEXT PRIMARY KEY, data TEXT NOT NULL CHECK(json_valid(data)))`); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(rows); i += 2 {
		if _, err := db.Exec(`INSERT INTO "`+table+`" (id, data) VALUES (?, ?)`, rows[i], rows[i+1]); err != nil {
			tb.Fatalf("seed %s/%s: %v", table, rows[i], err)
		}
	}
}
