package persist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/persistkit/persist"
)

func ExampleChangeFeed() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	feed, ok := db.(persist.ChangeFeed)
	if !ok {
		log.Fatal("this backend has no change feed")
	}
	if err := feed.EnableFeed(ctx, "runs"); err != nil {
		log.Fatal(err)
	}
	opts := &persist.FeedOptions{Tables: []string{"runs"}}
	// A new consumer takes the present position, then loads what it needs.
	cursor, err := feed.Cursor(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}

	runs, _ := db.Store("runs")
	runs.Put(ctx, persist.Record{ID: "r1", Data: json.RawMessage(`{"state":"queued"}`)})
	runs.Put(ctx, persist.Record{ID: "r1", Data: json.RawMessage(`{"state":"done"}`)})
	runs.Delete(ctx, "r1")

	// With opts.Follow the loop would wait for more instead of ending.
	for c, err := range feed.Changes(ctx, cursor, opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.Op, c.ID, c.Revision, string(c.Data))
		cursor = c.Cursor // save it to resume after a restart
	}
	// Output:
	// insert r1 1 {"state":"queued"}
	// update r1 2 {"state":"done"}
	// delete r1 2
}
