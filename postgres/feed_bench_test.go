package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/feedbench"
	"github.com/persistkit/persist/postgres"
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

// BenchmarkFeedLatency: a consumer in another process follows the feed
// while 16 writers Put 1,000 records a second in all; run it with
// -benchtime 5000x for five seconds of writes. It reports p50 and p99 of
// the delay from each Put's return to the consumer's receipt.
func BenchmarkFeedLatency(b *testing.B) {
	u := withSearchPath(b, newSchema(b), nil)
	db, err := openWith(context.Background(), u, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	feedbench.Latency(b, db, u, "TestFeedLatencyChild", 1000)
}

// TestFeedLatencyChild is the consumer process of BenchmarkFeedLatency;
// run on its own it skips.
func TestFeedLatencyChild(t *testing.T) {
	feedbench.Child(t, func(ctx context.Context, u string) (persist.DB, error) { return postgres.Open(ctx, u, nil) })
}

// BenchmarkFeedIdle: what one consumer following a quiet feed costs, in
// this process's CPU and in statements sent to the server.
func BenchmarkFeedIdle(b *testing.B) {
	var queries queryCounter
	db, _ := mustOpen(b, func(c *postgres.Config) { c.Pool.ConnConfig.Tracer = &queries })
	feedbench.Idle(b, db, queries.n.Load)
}

// queryCounter counts the statements sent on the pool's connections.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
