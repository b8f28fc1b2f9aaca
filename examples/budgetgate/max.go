package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// maxConfig describes one throughput run.
type maxConfig struct {
	url      string
	workers  int
	duration time.Duration
}

// maxResult is what a throughput run measured.
type maxResult struct {
	Backend string
	Pairs   int64 // Reserve+Commit pairs completed
	Errors  int64
	Elapsed time.Duration
	Pair    latencies
}

// runMax runs Reserve then Commit in a closed loop from cfg.workers
// goroutines against one organization budget, the hottest possible row, and
// reports the pairs completed per second.
func runMax(ctx context.Context, cfg maxConfig) (*maxResult, error) {
	if cfg.workers <= 0 || cfg.workers > 256 {
		return nil, fmt.Errorf("-workers %d: want 1 to 256", cfg.workers)
	}
	db, err := persist.Open(ctx, withPool(cfg.url, cfg.workers+2), nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := resetTables(ctx, db); err != nil {
		return nil, err
	}
	ledger, err := budget.New(db, ledgerOptions())
	if err != nil {
		return nil, err
	}
	hot := budget.Scope{Tier: budget.Org, ID: "hot"}
	if err := ledger.SetBudget(ctx, budget.Budget{Scope: hot, Period: budget.Monthly, Limit: math.MaxInt64 / 2}); err != nil {
		return nil, err
	}
	scopes := budget.Scopes{Org: hot.ID}
	pair := func() error {
		r, err := ledger.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 1000})
		if err != nil {
			return err
		}
		return r.Commit(ctx, 900)
	}
	if err := pair(); err != nil { // warm up: the counter, the connections
		return nil, err
	}

	res := &maxResult{Backend: backendName(cfg.url)}
	var pairs, errs atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.duration)
	for range cfg.workers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err := pair(); err != nil {
					errs.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				res.Pair.add(time.Since(t))
				pairs.Add(1)
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Pairs, res.Errors = pairs.Load(), errs.Load()
	if firstErr != nil && res.Pairs == 0 {
		return nil, firstErr
	}
	return res, nil
}

// report prints a throughput run's result.
func (r *maxResult) report(w io.Writer, cfg maxConfig) {
	fmt.Fprintf(w, "budgetgate: %s, %d workers for %v on one hot budget: %d Reserve+Commit pairs, %.0f pairs/s, %d errors\n",
		r.Backend, cfg.workers, cfg.duration, r.Pairs, r.rate(), r.Errors)
	fmt.Fprintf(w, "  %-28s p50 %-9v p95 %-9v p99 %v\n", "pair latency",
		round(r.Pair.percentile(50)), round(r.Pair.percentile(95)), round(r.Pair.percentile(99)))
}

// rate is pairs per second.
func (r *maxResult) rate() float64 { return float64(r.Pairs) / r.Elapsed.Seconds() }
