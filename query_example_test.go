package persist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/persistkit/persist"
)

func ExampleQuery() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	runs, err := db.Store("pipeline_runs")
	if err != nil {
		log.Fatal(err)
	}
	for i, status := range []string{"ok", "failed", "failed", "ok", "failed"} {
		data := fmt.Sprintf(`{"pipeline":"p7","status":%q,"started":%d}`, status, 100+i)
		if _, err := runs.Put(ctx, persist.Record{ID: fmt.Sprint("run-", i), Data: json.RawMessage(data)}); err != nil {
			log.Fatal(err)
		}
	}
	err = persist.EnsureIndex(ctx, runs, persist.Index{Name: "by_pipeline", Fields: []persist.Sort{
		{Path: "pipeline"}, {Path: "status"}, {Path: "started", Dir: persist.Desc},
	}})
	if err != nil {
		log.Fatal(err)
	}

	q := persist.Where("pipeline", "==", "p7").Where("status", "==", "failed").
		OrderBy("started", persist.Desc).Limit(2)
	page, err := runs.FindPage(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range page.Records {
		fmt.Println(rec.ID)
	}
	page, err = runs.FindPage(ctx, q.After(page.Next))
	if err != nil {
		log.Fatal(err)
	}
	for _, rec := range page.Records {
		fmt.Println(rec.ID, page.Next == "")
	}
	n, err := runs.CountWhere(ctx, q)
	if err != nil {
		log.Fatal(err)
	}
	plan, err := persist.Explain(ctx, runs, q)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, plan.Indexed)
	// Output:
	// run-4
	// run-2
	// run-1 true
	// 3 true
}
