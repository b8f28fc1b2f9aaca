package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

func TestSortedList(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			p := newTestPortal(t, open(t))
			for i := range 7 {
				body := fmt.Sprintf(`{"id":"run-s%d","data":{"pipeline":"pl-s","n":%d,"cfg":{"k":%d}}}`, i, (i*3)%7, i%2)
				wantStatus(t, p.do(t, "POST", "/api/v1/pipeline_runs", body), http.StatusCreated)
			}
			t.Run("PagesByCursor", func(t *testing.T) {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatalf("more than 10 pages")
					}
					r := p.do(t, "GET", "/api/v1/pipeline_runs?pipeline=pl-s&sort=-n&limit=3&cursor="+url.QueryEscape(cursor), "")
					wantStatus(t, r, http.StatusOK)
					l := r.list(t)
					got = append(got, ids(l)...)
					if l.Next == "" {
						break
					}
					cursor = l.Next
				}
				// n is 0 3 6 2 5 1 4 for run-s0 to run-s6.
				if want := "run-s2 run-s4 run-s6 run-s1 run-s3 run-s5 run-s0"; strings.Join(got, " ") != want {
					t.Errorf("ids=%v, want %v", got, want)
				}
			})
			t.Run("NestedField", func(t *testing.T) {
				l := p.do(t, "GET", "/api/v1/pipeline_runs?cfg.k=1&sort=n", "").list(t)
				if got, want := strings.Join(ids(l), " "), "run-s5 run-s3 run-s1"; got != want {
					t.Errorf("ids=%v, want %v", got, want)
				}
			})
			t.Run("NewestFirst", func(t *testing.T) {
				l := p.do(t, "GET", "/api/v1/pipeline_runs?pipeline=pl-s&sort=-@inserted&limit=2", "").list(t)
				if got, want := strings.Join(ids(l), " "), "run-s6 run-s5"; got != want {
					t.Errorf("ids=%v, want %v", got, want)
				}
			})
			t.Run("BadRequest", func(t *testing.T) {
				l := p.do(t, "GET", "/api/v1/pipeline_runs?pipeline=pl-s&sort=-n&limit=3", "").list(t)
				for _, path := range []string{
					"/api/v1/pipeline_runs?sort=a..b",
					"/api/v1/pipeline_runs?sort=n&cursor=garbage",
					"/api/v1/pipeline_runs?pipeline=pl-s&sort=n&limit=3&cursor=" + url.QueryEscape(l.Next),
					"/api/v1/pipeline_runs?sort=n&after=run-s1",
				} {
					wantStatus(t, p.do(t, "GET", path, ""), http.StatusBadRequest)
				}
			})
		})
	}
}

// TestHotQueriesIndexed asserts, by asking each database's planner, that
// the list queries the portal declares indexes for read through them.
func TestHotQueriesIndexed(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv, err := newServer(ctx, open(t), newBroadcaster(), discard, 4096)
			if err != nil {
				t.Fatal(err)
			}
			// Enough records that a planner prefers an index to a scan.
			statuses := []string{"succeeded", "failed", "running", "pending"}
			for coll := range hotQueries {
				var recs []persist.Record
				for i := range 5000 {
					id := fmt.Sprintf("%s-%05d", coll, i)
					data, _ := json.Marshal(map[string]any{"id": id, "pipeline": fmt.Sprintf("pl-%d", i%40), "status": statuses[i%4]})
					recs = append(recs, persist.Record{ID: id, Data: data})
				}
				if _, err := srv.stores[coll].InsertMany(ctx, recs); err != nil {
					t.Fatal(err)
				}
			}
			if err := ensureIndexes(ctx, srv.stores); err != nil {
				t.Fatal(err)
			}
			for coll, q := range hotQueries {
				plan, err := persist.Explain(ctx, srv.stores[coll], q)
				if err != nil {
					t.Fatalf("Explain on %s: %v", coll, err)
				}
				if !plan.Indexed {
					t.Errorf("%s: hot query not index-served; plan:\n%s", coll, plan.Detail)
				}
			}
		})
	}
}
