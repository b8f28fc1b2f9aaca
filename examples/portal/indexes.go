package main

import (
	"context"
	"fmt"

	"github.com/persistkit/persist"
)

// indexes are the portal's declared indexes, by collection. Each serves a
// list screen: "the newest failed runs of a pipeline"
// (?pipeline=...&status=failed&sort=-@inserted) and "pending access
// requests, newest first" (?status=pending&sort=-@inserted). They are
// declared on every start, which does nothing once they exist, so a
// database the portal moves to (persist-migrate copies records, not
// indexes) gets them on its first start there.
var indexes = map[string][]persist.Index{
	"pipeline_runs":   {{Name: "by_pipeline_status", Fields: []persist.Sort{{Path: "pipeline"}, {Path: "status"}}}},
	"access_requests": {{Name: "by_status", Fields: []persist.Sort{{Path: "status"}}}},
}

// hotQueries are the list queries the indexes are for; the tests assert
// that each is index-served on every backend.
var hotQueries = map[string]persist.Query{
	"pipeline_runs": persist.Where("pipeline", "==", "pl-clickstream").Where("status", "==", "failed").
		OrderBy(persist.Inserted, persist.Desc).Limit(defaultLimit + 1),
	"access_requests": persist.Where("status", "==", "pending").OrderBy(persist.Inserted, persist.Desc).Limit(defaultLimit + 1),
}

// ensureIndexes declares the indexes on the stores.
func ensureIndexes(ctx context.Context, stores map[string]persist.Store) error {
	for name, idxs := range indexes {
		for _, idx := range idxs {
			if err := persist.EnsureIndex(ctx, stores[name], idx); err != nil {
				return fmt.Errorf("index %s on %s: %w", idx.Name, name, err)
			}
		}
	}
	return nil
}
