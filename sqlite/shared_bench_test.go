package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

// BenchmarkPutTriggers measures what the triggers for the earlier
// portal's writers cost persist's own Put: the same Puts (the first 5,000
// insert, the rest replace) on a table with the triggers and on one whose
// triggers were dropped, which is what the previous code had. The two
// halves alternate within the run; compare triggers against none.
func BenchmarkPutTriggers(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "triggers.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	with, without := MustStore(b, db, "with_triggers"), MustStore(b, db, "without_triggers")
	for _, s := range []persist.Store{with, without} {
		if _, err := s.Count(ctx); err != nil { // creates the table
			b.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	for _, k := range []string{"legacy_insert_before", "legacy_insert_after", "legacy_update"} {
		if _, err := raw.Exec(`DROP TRIGGER "without_triggers:` + k + `"`); err != nil {
			b.Fatal(err)
		}
	}
	doc := []byte(`{"name":"updated","kind":"put","active":false,"score":2.5}`)
	put := func(s persist.Store) func(b *testing.B) {
		return func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("id%05d", i%5000), Data: doc}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		}
	}
	for i := range max(benchRounds(), 1) {
		if i%2 == 0 {
			b.Run("triggers", put(with))
			b.Run("none", put(without))
		} else {
			b.Run("none", put(without))
			b.Run("triggers", put(with))
		}
	}
}
