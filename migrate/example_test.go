package migrate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/migrate"
)

// Copy a database into another, here two in-memory SQLite databases; with
// a PostgreSQL URL as the target it is the portal's move to production.
func ExampleCopy() {
	ctx := context.Background()
	src, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	dst, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()

	sources, err := src.Store("sources")
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"lake", "crm", "logs"} {
		if _, err := sources.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(`{"enabled":true}`)}); err != nil {
			log.Fatal(err)
		}
	}

	report, err := migrate.Copy(ctx, src, dst, nil)
	if err != nil {
		log.Fatal(err) // a *DigestMismatchError, *PartialFailureError, ...
	}
	t := report.Totals
	fmt.Printf("read %d, inserted %d, skipped %d, mismatches %d\n",
		t.RowsRead, t.RowsInserted, t.RowsSkippedDuplicate, t.DigestMismatches)

	// Copying again is safe: existing records are skipped, never changed.
	report, err = migrate.Copy(ctx, src, dst, nil)
	if err != nil {
		log.Fatal(err)
	}
	t = report.Totals
	fmt.Printf("read %d, inserted %d, skipped %d, mismatches %d\n",
		t.RowsRead, t.RowsInserted, t.RowsSkippedDuplicate, t.DigestMismatches)
	// Output:
	// read 3, inserted 3, skipped 0, mismatches 0
	// read 3, inserted 0, skipped 3, mismatches 0
}
