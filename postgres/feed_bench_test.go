package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/persistkit/persist"
)

// BenchmarkPutFeed measures what the change feed costs persist's own
// Put: the same Puts (the first 5,000 insert, the rest replace) on a
// table with the feed on and on one without, in one schema. The halves
// alternate from one -count round to the next; compare feed against
// none.
func BenchmarkPutFeed(b *testing.B) {
	testURL(b)
	ctx := context.Background()
	db, _ := mustOpen(b, nil)
	if err := db.EnableFeed(ctx, "with_feed"); err != nil {
		b.Fatal(err)
	}
	with, without := mustStore(b, db, "with_feed"), mustStore(b, db, "without_feed")
	if _, err := without.Count(ctx); err != nil { // creates the table
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
		b.Run("feed", put(with))
		b.Run("none", put(without))
		return
	}
	b.Run("none", put(without))
	b.Run("feed", put(with))
}
