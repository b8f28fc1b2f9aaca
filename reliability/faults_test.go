package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsontest"
	"github.com/persistkit/persist/migrate"
)

const (
	envRestart = "PERSIST_TEST_PG_RESTART" // "1" allows restarting the server
	envCluster = "PERSIST_TEST_PG_CLUSTER" // "VERSION NAME" of the cluster to restart; default: newest version, main

	killWorkers  = 8
	killDuration = 5 * time.Second
	killInterval = 200 * time.Millisecond

	copyRows        = 20_000
	restartAfterRow = 4_000
)

// faultFigures are one scenario's results, for RELIABILITY.md.
type faultFigures struct {
	Test       string         `json:"test"`
	Scenario   string         `json:"scenario"`
	Attempted  int64          `json:"operations_attempted"`
	Retried    int64          `json:"retried"`           // both kinds below
	Policy     int64          `json:"retried_policy"`    // internal/retry's retries
	Reconnects int64          `json:"retried_reconnect"` // reruns on another connection
	Failed     int64          `json:"failed"`
	Acked      int64          `json:"writes_acknowledged"`
	Lost       int64          `json:"writes_lost"`
	BadReads   int64          `json:"bad_reads,omitempty"`
	Killed     int64          `json:"backends_terminated,omitempty"`
	Errors     map[string]int `json:"errors_by_kind,omitempty"`
	FirstError string         `json:"first_copy_error,omitempty"`
	Mismatches int64          `json:"digest_mismatches"`
	Seconds    float64        `json:"elapsed_seconds"`
}

// TestFaults injects PostgreSQL failures under load and checks that no
// acknowledged write is lost. Figures go to the test log and, as JSON
// lines, to the file named by PERSIST_RELIABILITY_REPORT.
func TestFaults(t *testing.T) {
	base := postgresBase(t)
	t.Run("ConnectionKillsLoseNoWrite", func(t *testing.T) { testConnectionKills(t, base) })
	t.Run("RestartDuringCopyRecovers", func(t *testing.T) { testRestartDuringCopy(t, base) })
}

func (f *faultFigures) setRetries(c retryCounter) {
	f.Policy, f.Reconnects = c.policy.Load(), c.reconnect.Load()
	f.Retried = f.Policy + f.Reconnects
}

// errorKind sorts a failed call's error for the figures.
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	case errors.Is(err, persist.ErrUnavailable):
		return "unavailable"
	case persist.IsTransient(err):
		return "transient"
	default:
		return "other"
	}
}

// worker is one goroutine's share of the connection-kill load. It owns
// its ids and its counter, so what it acknowledged is exactly what must be
// stored.
type worker struct {
	attempted, failed, badReads int64
	acked                       map[string]json.RawMessage
	ids                         []string
	incAcked, incTried          int64 // UpdateFunc increments of the counter
	errs                        map[string]int
	samples                     []string
}

func counterID(g int) string { return fmt.Sprintf("counter-%d", g) }

func (w *worker) fail(err error) {
	w.failed++
	w.errs[errorKind(err)]++
	if len(w.samples) < 3 {
		w.samples = append(w.samples, err.Error())
	}
}

func (w *worker) loop(st persist.Store, g int, until time.Time) {
	rng := rand.New(rand.NewPCG(uint64(g), 7))
	for i := 0; time.Now().Before(until); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w.attempted++
		switch op := rng.IntN(10); {
		case op == 0:
			w.incTried++
			_, err := st.UpdateFunc(ctx, counterID(g), func(cur persist.Record) (json.RawMessage, error) {
				var c struct{ Count int64 }
				if err := json.Unmarshal(cur.Data, &c); err != nil {
					return nil, err
				}
				return json.RawMessage(fmt.Sprintf(`{"count":%d}`, c.Count+1)), nil
			})
			if err != nil {
				w.fail(err)
			} else {
				w.incAcked++
			}
		case len(w.ids) == 0 || op < 6:
			id := fmt.Sprintf("w%d-%d", g, i)
			data := json.RawMessage(fmt.Sprintf(`{"g":%d,"i":%d,"pad":"%s"}`, g, i, strings.Repeat("x", 100)))
			if _, err := st.Put(ctx, persist.Record{ID: id, Data: data}); err != nil {
				w.fail(err)
			} else {
				w.acked[id] = data
				w.ids = append(w.ids, id)
			}
		default:
			id := w.ids[rng.IntN(len(w.ids))]
			rec, err := st.Get(ctx, id)
			switch {
			case err != nil:
				w.fail(err)
			case string(rec.Data) != string(w.acked[id]):
				if eq, _ := jsontest.EqualJSON(rec.Data, w.acked[id]); !eq {
					w.badReads++
				}
			}
		}
		cancel()
	}
}

// testConnectionKills runs killWorkers goroutines of Get and Put (and, one
// call in ten, an UpdateFunc increment of the worker's counter) while
// another goroutine terminates every backend of this test's pool every
// killInterval, found by the application_name the URL sets. Every
// acknowledged Put must be stored; each counter must hold at least its
// acknowledged increments and at most those tried, since an increment
// applied twice would mean an unsafe retry.
func testConnectionKills(t *testing.T, base string) {
	app := "persist_reliability_" + randomSuffix(t)
	u := postgresSchemaURL(t, base, app)
	retries := newRetryCounter()
	db := mustOpen(t, u, &persist.Options{Logger: slog.New(retries)})
	st := mustStore(t, db, "faults")
	ctx := context.Background()
	for g := range killWorkers {
		if _, err := st.Put(ctx, persist.Record{ID: counterID(g), Data: json.RawMessage(`{"count":0}`)}); err != nil {
			t.Fatalf("Put before faults: %v", err)
		}
	}

	killer, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect killer: %v", err)
	}
	defer killer.Close(ctx)
	var killed int64
	stop := make(chan struct{})
	killerDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(killInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				killerDone <- nil
				return
			case <-tick.C:
			}
			var n int64
			err := killer.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
			if err != nil {
				killerDone <- err
				return
			}
			killed += n
		}
	}()

	start := time.Now()
	until := start.Add(killDuration)
	workers := make([]*worker, killWorkers)
	var wg sync.WaitGroup
	for g := range workers {
		w := &worker{acked: map[string]json.RawMessage{}, errs: map[string]int{}}
		workers[g] = w
		wg.Go(func() { w.loop(st, g, until) })
	}
	wg.Wait()
	close(stop)
	if err := <-killerDone; err != nil {
		t.Fatalf("killer: %v", err)
	}

	fig := faultFigures{Test: "TestFaults", Scenario: "connection_kills", Killed: killed, Errors: map[string]int{}}
	acked := map[string]json.RawMessage{}
	var samples []string
	for _, w := range workers {
		fig.Attempted += w.attempted
		fig.Failed += w.failed
		fig.BadReads += w.badReads
		for k, n := range w.errs {
			fig.Errors[k] += n
		}
		for id, d := range w.acked {
			acked[id] = d
		}
		samples = append(samples, w.samples...)
	}
	fig.Acked = int64(len(acked)) // increments are added below
	fig.setRetries(retries)

	// The DB that took the faults must serve again without being reopened.
	recovered := false
	for attempt := 0; attempt < 5 && !recovered; attempt++ {
		_, err := st.Put(ctx, persist.Record{ID: "after", Data: json.RawMessage(`{"after":true}`)})
		recovered = err == nil
	}
	if !recovered {
		t.Errorf("the DB did not serve a Put in 5 tries after the connection kills")
	}

	// Count what survived through a handle that saw no faults.
	check := mustOpen(t, u, nil)
	stored := map[string]json.RawMessage{}
	for rec, err := range mustStore(t, check, "faults").List(ctx, nil) {
		if err != nil {
			t.Fatalf("List after faults: %v", err)
		}
		stored[rec.ID] = rec.Data
	}
	for g, w := range workers {
		var c struct{ Count int64 }
		if err := json.Unmarshal(stored[counterID(g)], &c); err != nil {
			t.Fatalf("counter %d: %q: %v", g, stored[counterID(g)], err)
		}
		fig.Acked += w.incAcked
		if c.Count < w.incAcked {
			fig.Lost += w.incAcked - c.Count
			t.Errorf("counter %d = %d after %d acknowledged increments", g, c.Count, w.incAcked)
		}
		if c.Count > w.incTried {
			t.Errorf("counter %d = %d after only %d increments were tried: an increment was applied twice", g, c.Count, w.incTried)
		}
	}
	for id, want := range acked {
		got, ok := stored[id]
		if !ok {
			fig.Lost++
			t.Errorf("acknowledged Put %s is missing", id)
			continue
		}
		if eq, err := jsontest.EqualJSON(got, want); err != nil || !eq {
			fig.Lost++
			t.Errorf("acknowledged Put %s = %s, want %s", id, got, want)
		}
	}
	fig.Seconds = time.Since(start).Seconds()
	sort.Strings(samples)
	samples = slices.Compact(samples)
	for _, s := range samples[:min(len(samples), 5)] {
		t.Logf("sample error: %s", s)
	}
	writeReport(t, fig)
	if killed == 0 {
		t.Errorf("no backend was terminated: the scenario tested nothing")
	}
	if fig.BadReads > 0 {
		t.Errorf("%d Gets returned data other than what was acknowledged", fig.BadReads)
	}
	if fig.Failed == fig.Attempted {
		t.Errorf("all %d operations failed", fig.Attempted)
	}
}

// testRestartDuringCopy restarts the PostgreSQL server while migrate.Copy
// writes 20,000 records from SQLite to it. The copy may fail; run again, it
// must complete with every row present and no digest mismatch.
func testRestartDuringCopy(t *testing.T, base string) {
	if os.Getenv(envRestart) != "1" {
		t.Skipf("Skipping: set %s=1 to restart the PostgreSQL server (it disrupts every other user of the server)", envRestart)
	}
	version, cluster := pgCluster(t)
	ctx := context.Background()

	src := mustOpen(t, sqliteURL(filepath.Join(t.TempDir(), "src.db")), nil)
	items := mustStore(t, src, "items")
	for b := 0; b < copyRows; b += 1000 {
		recs := make([]persist.Record, 1000)
		for i := range recs {
			n := b + i
			recs[i] = persist.Record{
				ID:   fmt.Sprintf("item-%05d", n),
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"big":1%d23456789012345678901,"s":"%s"}`, n, n, strings.Repeat("é", n%50))),
			}
		}
		if _, err := items.InsertMany(ctx, recs); err != nil {
			t.Fatalf("seed source: %v", err)
		}
	}

	u := postgresSchemaURL(t, base, "persist_reliability_"+randomSuffix(t))
	retries := newRetryCounter()
	dst := mustOpen(t, u, &persist.Options{Logger: slog.New(retries)})

	start := time.Now()
	var (
		restartErr error
		finished   <-chan error
	)
	opts := &migrate.Options{BatchSize: 500, Progress: func(p migrate.Progress) {
		if finished != nil || p.Phase != migrate.PhaseCopy || p.Done < restartAfterRow {
			return
		}
		finished, restartErr = restartAndWaitDown(t, base, version, cluster)
	}}
	rep1, err1 := migrate.Copy(ctx, src, dst, opts)
	if finished == nil {
		t.Fatalf("the copy ended before the restart was triggered: %+v, %v", rep1.Totals, err1)
	}
	if err := <-finished; err != nil {
		t.Fatalf("restart %s/%s: %v", version, cluster, err)
	}
	if restartErr != nil {
		t.Fatalf("restart %s/%s: %v", version, cluster, restartErr)
	}
	waitReady(t, base, time.Minute)

	fig := faultFigures{Test: "TestFaults", Scenario: "restart_during_copy", Attempted: 2}
	if err1 != nil {
		fig.Failed = 1
		fig.FirstError = err1.Error()
		t.Logf("first copy failed as it may: %v (%d rows inserted)", err1, rep1.Totals.RowsInserted)
	} else {
		t.Logf("first copy survived the restart: %d rows inserted, %d mismatches", rep1.Totals.RowsInserted, rep1.Totals.DigestMismatches)
	}
	rep2, err2 := migrate.Copy(ctx, src, dst, nil)
	if err2 != nil {
		t.Fatalf("second copy: %v (%+v)", err2, rep2.Totals)
	}
	fig.setRetries(retries)
	fig.Acked = rep1.Totals.RowsInserted + rep2.Totals.RowsInserted
	fig.Mismatches = rep2.Totals.DigestMismatches
	if rep2.Totals.DigestMismatches != 0 || rep2.Totals.RowsFailed != 0 {
		t.Errorf("second copy: %d mismatches, %d rows failed; want 0", rep2.Totals.DigestMismatches, rep2.Totals.RowsFailed)
	}
	if len(rep2.Tables) != 1 || !rep2.Tables[0].Verified || rep2.Tables[0].RowsVerified != copyRows {
		t.Errorf("second copy report: %+v, want one verified table of %d rows", rep2.Tables, copyRows)
	}
	n, err := mustStore(t, dst, "items").Count(ctx)
	if err != nil {
		t.Fatalf("Count on target: %v", err)
	}
	fig.Lost = copyRows - n
	if n != copyRows {
		t.Errorf("target has %d rows, want %d", n, copyRows)
	}
	fig.Seconds = time.Since(start).Seconds()
	writeReport(t, fig)
}

// pgCluster returns the cluster to restart: PERSIST_TEST_PG_CLUSTER, or the
// newest version under /etc/postgresql and "main".
func pgCluster(t *testing.T) (version, name string) {
	t.Helper()
	if v := os.Getenv(envCluster); v != "" {
		f := strings.Fields(v)
		if len(f) != 2 {
			t.Fatalf("%s=%q: want \"VERSION NAME\"", envCluster, v)
		}
		return f[0], f[1]
	}
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no PostgreSQL cluster under /etc/postgresql to restart: %v", err)
	}
	var versions []string
	for _, e := range entries {
		versions = append(versions, e.Name())
	}
	slices.SortFunc(versions, func(a, b string) int {
		var x, y float64
		fmt.Sscan(a, &x)
		fmt.Sscan(b, &y)
		return int(x - y)
	})
	return versions[len(versions)-1], "main"
}

// restartAndWaitDown starts a fast restart of the cluster and returns once
// the server has gone down (or the restart has already finished), so the
// copy goes on against a server that is away. finished yields the outcome
// of the restart command.
func restartAndWaitDown(t *testing.T, base, version, cluster string) (finished <-chan error, err error) {
	t.Helper()
	cmd := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Logf("restarting PostgreSQL %s/%s", version, cluster)
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("pg_ctlcluster restart: %w: %s", err, strings.TrimSpace(out.String()))
		}
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(done) > 0 || !serverReady(base) {
			return done, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return done, errors.New("the server did not go down within 30s")
}

// serverReady reports whether the server accepts a connection and a query.
func serverReady(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

// waitReady waits until the server is back, like a pg_isready loop.
func waitReady(t *testing.T, base string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !serverReady(base) {
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL at %s not back within %v", persist.Redact(base), limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
