package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// BenchmarkPutTriggers measures what the revision trigger for the earlier
// portal's writers costs persist's own Put: the same Puts (the first 5,000
// insert, the rest replace) on a table with the trigger and on one whose
// trigger was dropped, which is what the previous code had. The halves
// alternate from one -count round to the next; compare triggers against
// none.
func BenchmarkPutTriggers(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	db, _ := mustOpen(b, nil)
	with, without := mustStore(b, db, "with_trigger"), mustStore(b, db, "without_trigger")
	for _, s := range []persist.Store{with, without} {
		if _, err := s.Count(ctx); err != nil { // creates the table
			b.Fatal(err)
		}
	}
	if err := postgres.DropTrigger(ctx, db, "without_trigger"); err != nil {
		b.Fatal(err)
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
	if runs.Add(1)%2 == 0 {
		b.Run("triggers", put(with))
		b.Run("none", put(without))
		return
	}
	b.Run("none", put(without))
	b.Run("triggers", put(with))
}
