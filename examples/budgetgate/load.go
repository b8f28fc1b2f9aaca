package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// loadConfig describes one open-loop load run.
type loadConfig struct {
	url       string
	rps       int
	duration  time.Duration
	model     time.Duration // simulated model latency
	limits    limits
	maxTokens int
}

// loadResult is what a load run measured.
type loadResult struct {
	Backend     string
	Requests    int       // sent
	OK          int       // 200
	Denied      int       // 429
	Unavailable int       // 503
	Errors      int       // anything else, including transport errors
	Budget      latencies // Reserve + Commit, inside the handler
	Whole       latencies // the whole request, from its scheduled start
	Elapsed     time.Duration
}

// latencies collects durations and reports percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100).
func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := int(float64(len(l.d))*p/100+0.999999) - 1
	return l.d[min(max(i, 0), len(l.d)-1)]
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// runLoad serves the gateway on a loopback port and sends it cfg.rps
// requests a second for cfg.duration, open loop: each request starts on
// schedule whether or not earlier ones have finished, and its latency is
// measured from its scheduled start, so a slow server cannot hide its
// queueing.
func runLoad(ctx context.Context, cfg loadConfig) (*loadResult, error) {
	if cfg.rps <= 0 || cfg.rps > 10_000 {
		return nil, fmt.Errorf("-rps %d: want 1 to 10000", cfg.rps)
	}
	if cfg.duration <= 0 {
		return nil, fmt.Errorf("-duration %v: want positive", cfg.duration)
	}
	db, err := persist.Open(ctx, withPool(cfg.url, 16), nil)
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
	if err := setBudgets(ctx, ledger, cfg.limits); err != nil {
		return nil, err
	}

	res := &loadResult{Backend: backendName(cfg.url)}
	gw := &gateway{
		ledger: ledger, keys: demoKeyScopes(), prices: prices, model: cfg.model,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), onBudget: res.Budget.add,
	}
	// Only ever loopback: the load never leaves this machine.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	target := "http://" + ln.Addr().String() + "/v1/completions"

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
	}
	defer client.CloseIdleConnections()
	prompt := strings.Repeat("Summarise the quarterly report. ", 12)

	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	count := func(status int) {
		mu.Lock()
		defer mu.Unlock()
		switch status {
		case http.StatusOK:
			res.OK++
		case http.StatusTooManyRequests:
			res.Denied++
		case http.StatusServiceUnavailable:
			res.Unavailable++
		default:
			res.Errors++
		}
	}
	fire := func(due time.Time) {
		body, _ := json.Marshal(completionRequest{Model: "sim-large", Prompt: prompt, MaxTokens: cfg.maxTokens})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			count(0)
			return
		}
		req.Header.Set("Authorization", "Bearer "+demoKey(rand.IntN(demoKeys)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			count(0)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res.Whole.add(time.Since(due))
		count(resp.StatusCode)
	}

	interval := time.Second / time.Duration(cfg.rps)
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= cfg.duration {
			break
		}
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return nil, ctx.Err()
			}
		}
		res.Requests++
		wg.Go(func() { fire(due) })
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return res, nil
}

// report prints a load run's result.
func (r *loadResult) report(w io.Writer, cfg loadConfig) {
	fmt.Fprintf(w, "budgetgate: %s, %d rps for %v (model %v): %d requests, %d ok, %d denied (429), %d unavailable (503), %d errors\n",
		r.Backend, cfg.rps, cfg.duration, cfg.model, r.Requests, r.OK, r.Denied, r.Unavailable, r.Errors)
	line := func(name string, l *latencies) {
		fmt.Fprintf(w, "  %-28s n=%-6d p50 %-9v p95 %-9v p99 %-9v max %v\n", name, l.count(),
			round(l.percentile(50)), round(l.percentile(95)), round(l.percentile(99)), round(l.percentile(100)))
	}
	line("budget path (Reserve+Commit)", &r.Budget)
	line("whole request", &r.Whole)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
