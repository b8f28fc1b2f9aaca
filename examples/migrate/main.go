// Command migrate is a whole-program example of package migrate: it seeds a
// SQLite database in the earlier portal's layout (a table of id and JSON
// text, written with plain database/sql), then moves it to the database
// named by DATABASE_URL (by default another SQLite file) with migrate.Copy,
// verifying every record, and prints the report. It then runs the copy a
// second time to show that a re-run inserts nothing and finds no mismatch.
//
//	go run ./examples/migrate
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test go run ./examples/migrate
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"

	_ "github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for the seed
)

func main() {
	dir := flag.String("dir", "", "directory for the SQLite files (default: a new temporary directory)")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "persist-migrate-example-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	target := os.Getenv(persist.EnvURL)
	if target == "" {
		target = "sqlite:///" + filepath.Join(*dir, "target.db")
	}
	if err := run(context.Background(), os.Stdout, *dir, target); err != nil {
		fmt.Fprintln(os.Stderr, "migrate example:", err)
		os.Exit(1)
	}
}

// run seeds dir/portal.db, copies it to target twice and prints both
// reports.
func run(ctx context.Context, w io.Writer, dir, target string) error {
	source := filepath.Join(dir, "portal.db")
	if err := seedPortal(ctx, source); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	src, err := persist.Open(ctx, "sqlite:///"+source, nil)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := persist.Open(ctx, target, nil)
	if err != nil {
		return err
	}
	defer dst.Close()

	fmt.Fprintf(w, "copying %s -> %s\n", source, persist.Redact(target))
	for _, pass := range []string{"first run", "second run"} {
		report, err := migrate.Copy(ctx, src, dst, nil)
		var mismatch *migrate.DigestMismatchError
		if errors.As(err, &mismatch) {
			// A target that already held different records: they are
			// reported and left alone, so say so rather than fail.
			fmt.Fprintf(w, "%s: %v\n", pass, err)
		} else if err != nil {
			return err
		}
		t := report.Totals
		fmt.Fprintf(w, "%s: read %d, inserted %d, skipped %d, mismatches %d\n",
			pass, t.RowsRead, t.RowsInserted, t.RowsSkippedDuplicate, t.DigestMismatches)
		if pass == "first run" {
			b, err := json.MarshalIndent(report, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", b)
		}
	}
	return nil
}

// seedPortal writes the earlier portal's layout directly, as that portal
// did: the persist backend upgrades such tables in place when it opens
// them, keeping every row and its order.
func seedPortal(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, data TEXT NOT NULL CHECK(json_valid(data)))`); err != nil {
		return err
	}
	rows := []struct{ id, data string }{
		{"src-lake", `{"name":"Data lake","kind":"s3","enabled":true,"owner":{"team":"Plattform","contact":"zoë@example.com"}}`},
		{"src-crm", `{"name":"CRM export","kind":"postgres","enabled":false,"rows":12345678901234567890}`},
		{"src-logs", `{"name":"Журналы","kind":"kafka","enabled":true,"partitions":1e2,"tags":["eu","東京"]}`},
	}
	for _, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO sources (id, data) VALUES (?, ?)`, r.id, r.data); err != nil {
			return err
		}
	}
	return nil
}
