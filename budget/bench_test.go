package budget_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/persistkit/persist/budget"
)

// BenchmarkReserveCommit measures Reserve followed by Commit on one hot
// organization budget from 1 and 8 concurrent workers; with 8 it is the
// worst case for contention: every operation locks the same counter.
// Compare it with pgbench updating one hot row (examples/budgetgate/pgbench.sh).
func BenchmarkReserveCommit(b *testing.B) {
	for _, be := range backends {
		for _, workers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", be.name, workers), func(b *testing.B) {
				benchReserveCommit(b, be, workers)
			})
		}
	}
}

func benchReserveCommit(b *testing.B, be backend, workers int) {
	ctx := context.Background()
	url := be.url(b)
	if be.name == "Postgres" { // a connection per worker, as pgbench has
		url += "&pool_max_conns=" + strconv.Itoa(workers+2)
	}
	l := mustLedger(b, mustOpen(b, url), nil)
	mustSet(b, l, budget.Budget{Scope: budget.Scope{Tier: budget.Org, ID: "hot"}, Period: budget.Monthly, Limit: math.MaxInt64 / 2})
	scopes := budget.Scopes{Org: "hot"}
	if err := mustReserve(b, l, scopes, 1).Release(ctx); err != nil { // create the counter
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				r, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 100})
				if err != nil {
					b.Error(err)
					return
				}
				if err := r.Commit(ctx, 90); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pairs/s")
}

// BenchmarkCheck measures the read-only Check of three tiers.
func BenchmarkCheck(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			l := mustLedger(b, mustOpen(b, be.url(b)), nil)
			mustSet(b, l, budget.Budget{Scope: acme, Period: budget.Monthly, Limit: math.MaxInt64 / 2})
			mustSet(b, l, budget.Budget{Scope: acmeML, Period: budget.Daily, Limit: math.MaxInt64 / 2})
			mustSet(b, l, budget.Budget{Scope: keyAlice, Period: budget.Daily, Limit: math.MaxInt64 / 2})
			req := budget.Request{Scopes: allScopes, Estimate: 100}
			b.ResetTimer()
			for b.Loop() {
				if _, err := l.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
