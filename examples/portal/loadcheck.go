package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/persistkit/persist"
)

// loadConfig is what the load check runs.
type loadConfig struct {
	duration time.Duration // how long the workers send requests
	workers  int           // concurrent request loops
}

// loadOp is one kind of request the load check sends, all on sources.
type loadOp struct {
	name   string
	label  string // as printed in the report
	weight int    // percent of requests
}

var loadOps = []loadOp{
	{"list", "GET /api/v1/sources?limit=20", 35},
	{"get", "GET /api/v1/sources/{id}", 20},
	{"create", "POST /api/v1/sources", 25},
	{"put", "PUT /api/v1/sources/{id} (If-Match)", 15},
	{"query", "GET /api/v1/sources?enabled=true&limit=20", 5},
}

// opStats are one operation's measurements.
type opStats struct {
	latencies []time.Duration
	errors    int
	statuses  map[int]int // unexpected answers; 0 counts transport errors
}

// sseStats describe the event stream during the load window.
type sseStats struct {
	events, ticks, changes, resets int
	maxGap                         time.Duration // longest wait between events
	maxTickGap                     time.Duration // longest wait between ticks in the server's tick loop
}

// loadReport is the outcome of a load check.
type loadReport struct {
	db       string // redacted
	workers  int
	duration time.Duration // measured wall time of the load
	tick     time.Duration
	ops      map[string]*opStats
	sse      sseStats
}

// pass reports whether the event stream kept up: events arrived and no gap
// between two of them exceeded twice the tick interval.
func (r *loadReport) pass() bool {
	return r.sse.events > 0 && r.sse.maxGap <= 2*r.tick
}

// runLoadcheck starts the portal on a loopback port, keeps lc.workers
// request loops busy on the sources endpoints for lc.duration while one SSE
// client listens, and reports latencies and the longest gap between events.
// Without -db or DATABASE_URL it uses a temporary SQLite file; on a
// database the caller named, it deletes the records it created.
func runLoadcheck(ctx context.Context, cfg config, lc loadConfig, log *slog.Logger) (*loadReport, error) {
	cfg.addr = "127.0.0.1:0"
	cfg.seed = true // the get requests read a seeded record
	cleanup := true
	if cfg.dbURL == "" && os.Getenv(persist.EnvURL) == "" {
		dir, err := os.MkdirTemp("", "portal-loadcheck-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.dbURL = "sqlite:///" + filepath.Join(dir, "portal.db")
		cleanup = false // the whole file goes
	}
	a, err := startApp(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer a.shutdown()
	base := "http://" + a.addr

	sse := &sseListener{opened: make(chan struct{})}
	sseCtx, stopSSE := context.WithCancel(ctx)
	defer stopSSE()
	sseDone := make(chan error, 1)
	go func() { sseDone <- sse.listen(sseCtx, base+"/api/v1/events") }()
	select {
	case <-sse.opened:
	case err := <-sseDone:
		return nil, fmt.Errorf("event stream: %w", err)
	case <-time.After(10 * time.Second):
		return nil, errors.New("event stream did not open within 10s")
	}

	tr := &http.Transport{MaxIdleConnsPerHost: lc.workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	prefix := fmt.Sprintf("lc-%x-", time.Now().UnixNano())

	workers := make([]*loadWorker, lc.workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(lc.duration)
	sse.startMeasuring(start)
	a.srv.events.maxTickGap.Store(0)
	for i := range workers {
		w := &loadWorker{
			client: client, base: base, idPrefix: fmt.Sprintf("%sw%d-", prefix, i),
			rnd: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
			ops: map[string]*opStats{},
		}
		workers[i] = w
		wg.Go(func() { w.run(ctx, deadline) })
	}
	wg.Wait()
	end := time.Now()
	rep := &loadReport{
		db: persist.Redact(effectiveURL(cfg)), workers: lc.workers, duration: end.Sub(start), tick: cfg.tick,
		ops: map[string]*opStats{}, sse: sse.stopMeasuring(end),
	}
	rep.sse.maxTickGap = time.Duration(a.srv.events.maxTickGap.Load())
	stopSSE()
	if err := <-sseDone; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("event stream: %w", err)
	}
	for _, w := range workers {
		for name, st := range w.ops {
			rep.ops[name] = mergeStats(rep.ops[name], st)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cleanup {
		for _, w := range workers {
			for _, o := range w.own {
				if _, err := a.srv.stores["sources"].Delete(ctx, o.id); err != nil {
					return rep, fmt.Errorf("clean up loadcheck records: %w", err)
				}
			}
		}
	}
	return rep, a.shutdown()
}

func mergeStats(dst, src *opStats) *opStats {
	if dst == nil {
		dst = &opStats{statuses: map[int]int{}}
	}
	dst.latencies = append(dst.latencies, src.latencies...)
	dst.errors += src.errors
	for k, v := range src.statuses {
		dst.statuses[k] += v
	}
	return dst
}

// ownRecord is a record a worker created, with its last known revision.
type ownRecord struct {
	id  string
	rev int64
}

// loadWorker is one request loop. Its measurements are its own, merged
// after the run, so workers never contend on a lock.
type loadWorker struct {
	client   *http.Client
	base     string
	idPrefix string
	rnd      *rand.Rand
	ops      map[string]*opStats
	own      []ownRecord
	n        int
}

func (w *loadWorker) run(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		op := w.pick()
		switch {
		case op == "get":
			id := "src-lake"
			if len(w.own) > 0 && w.rnd.IntN(2) == 0 {
				id = w.own[w.rnd.IntN(len(w.own))].id
			}
			w.do(ctx, op, http.MethodGet, "/api/v1/sources/"+id, nil, "", http.StatusOK)
		case op == "create" || op == "put" && len(w.own) == 0:
			w.n++
			id := w.idPrefix + strconv.Itoa(w.n)
			body := fmt.Sprintf(`{"id":%q,"data":{"name":%q,"kind":"loadcheck","enabled":%t,"n":%d}}`, id, id, w.n%2 == 0, w.n)
			if rev := w.do(ctx, "create", http.MethodPost, "/api/v1/sources", []byte(body), "", http.StatusCreated); rev > 0 {
				w.own = append(w.own, ownRecord{id: id, rev: rev})
			}
		case op == "put":
			i := w.rnd.IntN(len(w.own))
			o := &w.own[i]
			body := fmt.Sprintf(`{"data":{"name":%q,"kind":"loadcheck","enabled":true,"rev":%d}}`, o.id, o.rev)
			if rev := w.do(ctx, op, http.MethodPut, "/api/v1/sources/"+o.id, []byte(body), strconv.FormatInt(o.rev, 10), http.StatusOK); rev > 0 {
				o.rev = rev
			}
		case op == "list":
			w.do(ctx, op, http.MethodGet, "/api/v1/sources?limit=20", nil, "", http.StatusOK)
		default:
			w.do(ctx, op, http.MethodGet, "/api/v1/sources?enabled=true&limit=20", nil, "", http.StatusOK)
		}
	}
}

func (w *loadWorker) pick() string {
	p := w.rnd.IntN(100)
	for _, op := range loadOps {
		if p < op.weight {
			return op.name
		}
		p -= op.weight
	}
	return loadOps[0].name
}

// do sends one request, reads the whole answer, and records the time taken.
// For writes it returns the new revision (0 on failure).
func (w *loadWorker) do(ctx context.Context, op, method, path string, body []byte, ifMatch string, want int) int64 {
	st := w.ops[op]
	if st == nil {
		st = &opStats{statuses: map[int]int{}}
		w.ops[op] = st
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		st.errors++
		st.statuses[0]++
		return 0
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", strconv.Quote(ifMatch))
	}
	t0 := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			st.errors++
			st.statuses[0]++
		}
		return 0
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	st.latencies = append(st.latencies, time.Since(t0))
	if err != nil || resp.StatusCode != want {
		st.errors++
		st.statuses[resp.StatusCode]++
		return 0
	}
	if body == nil {
		return 0
	}
	var rec struct {
		Revision int64 `json:"revision"`
	}
	if json.Unmarshal(b, &rec) != nil {
		st.errors++
		return 0
	}
	return rec.Revision
}

// sseListener reads the event stream and measures the gaps between events
// while measuring is on.
type sseListener struct {
	opened     chan struct{} // closed when the stream's opening comment arrives
	mu         sync.Mutex
	measuring  bool
	last       time.Time
	stats      sseStats
	openedOnce sync.Once
}

func (l *sseListener) listen(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			now := time.Now()
			if name == "" {
				l.openedOnce.Do(func() { close(l.opened) })
			} else {
				l.record(name, now)
			}
			name = ""
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

func (l *sseListener) record(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.measuring {
		return
	}
	l.stats.maxGap = max(l.stats.maxGap, now.Sub(l.last))
	l.last = now
	l.stats.events++
	switch name {
	case "tick":
		l.stats.ticks++
	case "change":
		l.stats.changes++
	case "reset":
		l.stats.resets++
	}
}

func (l *sseListener) startMeasuring(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.measuring, l.last = true, now
}

// stopMeasuring ends the window; the silence since the last event counts as
// a gap too, so a stream that stalls near the end is caught.
func (l *sseListener) stopMeasuring(now time.Time) sseStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.measuring = false
	l.stats.maxGap = max(l.stats.maxGap, now.Sub(l.last))
	return l.stats
}

// percentile returns the q-quantile (0 < q <= 1) of sorted by the
// nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(i, 1), len(sorted))-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// write prints the report and, last, PASS or FAIL.
func (r *loadReport) write(out io.Writer) {
	fmt.Fprintf(out, "portal loadcheck: %s, %d workers for %v, tick %v\n\n", r.db, r.workers, r.duration.Round(time.Millisecond), r.tick)
	fmt.Fprintf(out, "%-42s %8s %6s %9s %9s %9s %9s\n", "request", "count", "errors", "p50", "p95", "p99", "max")
	total := 0
	var listSorted []time.Duration
	for _, op := range loadOps {
		st := r.ops[op.name]
		if st == nil {
			continue
		}
		lat := slices.Clone(st.latencies)
		slices.Sort(lat)
		if op.name == "list" {
			listSorted = lat
		}
		total += len(lat)
		var worst time.Duration
		if len(lat) > 0 {
			worst = lat[len(lat)-1]
		}
		fmt.Fprintf(out, "%-42s %8d %6d %9s %9s %9s %9s\n", op.label, len(lat), st.errors,
			ms(percentile(lat, 0.50)), ms(percentile(lat, 0.95)), ms(percentile(lat, 0.99)), ms(worst))
		if len(st.statuses) > 0 {
			codes := make([]int, 0, len(st.statuses))
			for c := range st.statuses {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			var parts []string
			for _, c := range codes {
				parts = append(parts, fmt.Sprintf("%d × status %d", st.statuses[c], c))
			}
			fmt.Fprintf(out, "  unexpected answers: %s (status 0: transport error)\n", strings.Join(parts, ", "))
		}
	}
	secs := r.duration.Seconds()
	if secs <= 0 {
		secs = 1
	}
	fmt.Fprintf(out, "\nthroughput: %d requests, %.0f req/s\n", total, float64(total)/secs)
	fmt.Fprintf(out, "GET /api/v1/sources under load: p50 %s, p95 %s, p99 %s\n",
		ms(percentile(listSorted, 0.50)), ms(percentile(listSorted, 0.95)), ms(percentile(listSorted, 0.99)))
	fmt.Fprintf(out, "SSE: %d events (%d ticks, %d changes, %d resets); max gap %s, limit %s (2 × tick)\n",
		r.sse.events, r.sse.ticks, r.sse.changes, r.sse.resets, ms(r.sse.maxGap), ms(2*r.tick))
	fmt.Fprintf(out, "server tick loop: longest interval %s (a stream gap as long as this means the whole process stalled)\n", ms(r.sse.maxTickGap))
	if r.pass() {
		fmt.Fprintln(out, "PASS")
	} else {
		fmt.Fprintln(out, "FAIL")
	}
}
