package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/persistkit/persist"
)

// demoRecords is the data a fresh portal starts with. The ids are fixed, so
// seeding is InsertMany's skip-existing semantics: a restart inserts
// nothing and never overwrites an edited record.
var demoRecords = map[string][]persist.Record{
	"sources": {
		{ID: "src-lake", Data: json.RawMessage(`{"name":"lake","kind":"s3","enabled":true,"uri":"s3://portal-lake/raw"}`)},
		{ID: "src-warehouse", Data: json.RawMessage(`{"name":"warehouse","kind":"postgres","enabled":false}`)},
		{ID: "src-events", Data: json.RawMessage(`{"name":"events","kind":"kafka","enabled":true,"topic":"clicks"}`)},
	},
	"pipelines": {
		{ID: "pl-daily-ingest", Data: json.RawMessage(`{"name":"daily ingest","source":"src-lake","schedule":"0 2 * * *","enabled":true}`)},
		{ID: "pl-clickstream", Data: json.RawMessage(`{"name":"clickstream","source":"src-events","schedule":"@hourly","enabled":true}`)},
	},
	"pipeline_runs": {
		{ID: "run-0001", Data: json.RawMessage(`{"pipeline":"pl-daily-ingest","status":"succeeded","rows":120000}`)},
		{ID: "run-0002", Data: json.RawMessage(`{"pipeline":"pl-clickstream","status":"failed","rows":0,"error":"topic not found"}`)},
	},
	"access_requests": {
		{ID: "ar-0001", Data: json.RawMessage(`{"requester":"ana@example.com","product":"mp-sales","status":"pending"}`)},
	},
	"marketplace_products": {
		{ID: "mp-sales", Data: json.RawMessage(`{"name":"Sales by region","owner":"finance","price_cents":0,"published":true}`)},
		{ID: "mp-churn", Data: json.RawMessage(`{"name":"Churn scores","owner":"data-science","price_cents":25000,"published":false}`)},
	},
	"marketplace_quality": {
		{ID: "mq-sales", Data: json.RawMessage(`{"product":"mp-sales","completeness":0.998,"freshness_hours":6}`)},
	},
}

// seed inserts the demo records that are missing and reports, per
// collection, how many it inserted.
func seed(ctx context.Context, stores map[string]persist.Store) (map[string]persist.InsertResult, error) {
	results := make(map[string]persist.InsertResult, len(demoRecords))
	for _, name := range collections {
		recs := demoRecords[name]
		if len(recs) == 0 {
			continue
		}
		res, err := stores[name].InsertMany(ctx, recs)
		if err != nil {
			return results, fmt.Errorf("seed %s: %w", name, err)
		}
		results[name] = res
	}
	return results, nil
}
