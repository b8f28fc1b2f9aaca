package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/feedbench"
	"github.com/persistkit/persist/sqlite"
)

// BenchmarkPutFeed measures what the change feed costs persist's own
// Put: the same Puts (the first 5,000 insert, the rest replace) on a
// table with the feed on and on one without, in one database. The halves
// alternate within the run; compare feed against none. On a busy machine
// compare cpu-ns/op, the process's CPU time per Put: a commit here is
// all CPU and writes to the page cache, so waiting does not count.
func BenchmarkPutFeed(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "feed.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.EnableFeed(ctx, "with_feed"); err != nil {
		b.Fatal(err)
	}
	with, without := MustStore(b, db, "with_feed"), MustStore(b, db, "without_feed")
	if _, err := without.Count(ctx); err != nil { // creates the table
		b.Fatal(err)
	}
	doc := []byte(`{"name":"updated","kind":"put","active":false,"score":2.5}`)
	put := func(s persist.Store) func(b *testing.B) {
		return func(b *testing.B) {
			i := 0
			start := cpuTime()
			for b.Loop() {
				if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("id%05d", i%5000), Data: doc}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if c := cpuTime(); c > 0 {
				b.ReportMetric(float64(c-start)/float64(b.N), "cpu-ns/op")
			}
		}
	}
	for i := range max(benchRounds(), 1) {
		if i%2 == 0 {
			b.Run("feed", put(with))
			b.Run("none", put(without))
		} else {
			b.Run("none", put(without))
			b.Run("feed", put(with))
		}
	}
}

// BenchmarkFeedLatency: a consumer in another process follows the feed of
// the same file while 16 writers Put 1,000 records a second in all; run
// it with -benchtime 5000x for five seconds of writes. It reports p50 and
// p99 of the delay from each Put's return to the consumer's receipt.
func BenchmarkFeedLatency(b *testing.B) {
	path := filepath.Join(b.TempDir(), "feed.db")
	db, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	feedbench.Latency(b, db, path, "TestFeedLatencyChild", 1000)
}

// TestFeedLatencyChild is the consumer process of BenchmarkFeedLatency;
// run on its own it skips.
func TestFeedLatencyChild(t *testing.T) {
	feedbench.Child(t, func(ctx context.Context, path string) (persist.DB, error) { return sqlite.Open(ctx, path, nil) })
}

// BenchmarkFeedIdle: what one consumer following a quiet feed costs this
// process in CPU. Its only statement is PRAGMA data_version on one
// connection every 10 ms, which reads no table.
func BenchmarkFeedIdle(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "feed.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	feedbench.Idle(b, db, nil)
}
