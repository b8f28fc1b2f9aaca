package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", for PRAGMA integrity_check
)

const (
	envCrashChild = "PERSIST_CRASH_CHILD" // the database file the child writes
	envCrashRun   = "PERSIST_CRASH_RUN"   // the child's run number, which keeps its ids apart
	envCrashSeed  = "PERSIST_CRASH_SEED"  // repeats a run's kill timings
	envCrashKills = "PERSIST_CRASH_KILLS" // overrides the number of kills

	crashTable     = "crash"
	crashBatchSize = 5
	crashBudget    = 60 * time.Second // for the whole test; doubled under the race detector
	crashChildMax  = 30 * time.Second // a child that is never killed stops by itself
)

// crashDoc is every document the crash child writes. Its payload is a
// function of run, n and k, so a torn or mixed-up row cannot pass for a
// whole one.
type crashDoc struct {
	Run     int    `json:"run"`
	N       int    `json:"n"`
	K       int    `json:"k"`
	Kind    string `json:"kind"` // "put", "batch" or "ctr"
	Size    int    `json:"size"` // records in the batch, for "batch"
	Count   int    `json:"count"`
	Payload string `json:"payload"`
}

// crashPayload returns 200 bytes determined by run, n and k.
func crashPayload(run, n, k int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%d/%d", run, n, k)))
	h := hex.EncodeToString(sum[:])
	return (h + h + h + h)[:200]
}

func crashPutID(run, n int) string      { return fmt.Sprintf("r%d-p%d", run, n) }
func crashBatchID(run, n, k int) string { return fmt.Sprintf("r%d-b%d-%d", run, n, k) }
func crashCounterID(run int) string     { return fmt.Sprintf("r%d-ctr", run) }
func crashPutDoc(run, n int) crashDoc {
	return crashDoc{Run: run, N: n, Kind: "put", Payload: crashPayload(run, n, 0)}
}
func crashCounterDoc(run, c int) crashDoc {
	return crashDoc{Run: run, Kind: "ctr", Count: c, Payload: crashPayload(run, 0, 0)}
}
func crashBatchDoc(run, n, k int) crashDoc {
	return crashDoc{Run: run, N: n, K: k, Kind: "batch", Size: crashBatchSize, Payload: crashPayload(run, n, k)}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // crashDoc always marshals
	}
	return b
}

// TestCrashChild is the writer that TestCrashSafety kills; run on its own
// it skips. It prints "ready" once its counter record exists, then one line
// per write, only after the write returned success: "put ID", "batch N"
// (all crashBatchSize records of batch N) or "inc ID COUNT".
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashChild)
	if path == "" {
		t.Skip("runs only as the child process of TestCrashSafety")
	}
	run, err := strconv.Atoi(os.Getenv(envCrashRun))
	if err != nil {
		childFail("bad %s: %v", envCrashRun, err)
	}
	ctx := context.Background()
	db, err := persist.Open(ctx, sqliteURL(path), nil)
	if err != nil {
		childFail("open: %v", err)
	}
	st, err := db.Store(crashTable)
	if err != nil {
		childFail("store: %v", err)
	}
	ctr := crashCounterID(run)
	if _, err := st.Insert(ctx, persist.Record{ID: ctr, Data: mustJSON(crashCounterDoc(run, 0))}); err != nil {
		childFail("insert counter: %v", err)
	}
	ack("ready")
	deadline := time.Now().Add(crashChildMax)
	for n := 1; time.Now().Before(deadline); n++ {
		switch {
		case n%10 == 0:
			recs := make([]persist.Record, crashBatchSize)
			for k := range recs {
				recs[k] = persist.Record{ID: crashBatchID(run, n, k), Data: mustJSON(crashBatchDoc(run, n, k))}
			}
			res, err := st.InsertMany(ctx, recs)
			if err != nil || res.Inserted != crashBatchSize {
				childFail("insert_many batch %d: %+v, %v", n, res, err)
			}
			ack("batch %d", n)
		case n%7 == 0:
			rec, err := st.UpdateFunc(ctx, ctr, func(cur persist.Record) (json.RawMessage, error) {
				var d crashDoc
				if err := json.Unmarshal(cur.Data, &d); err != nil {
					return nil, err
				}
				d.Count++
				return mustJSON(d), nil
			})
			if err != nil {
				childFail("update_func %s: %v", ctr, err)
			}
			var d crashDoc
			if err := json.Unmarshal(rec.Data, &d); err != nil {
				childFail("update_func %s returned %q: %v", ctr, rec.Data, err)
			}
			ack("inc %s %d", ctr, d.Count)
		default:
			id := crashPutID(run, n)
			if _, err := st.Put(ctx, persist.Record{ID: id, Data: mustJSON(crashPutDoc(run, n))}); err != nil {
				childFail("put %s: %v", id, err)
			}
			ack("put %s", id)
		}
	}
	db.Close()
}

// ack writes one line to stdout with a single write, which a pipe keeps
// whole even when the process is killed right after it.
func ack(format string, args ...any) {
	os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// childFail reports a failed write to the parent and exits: the parent
// must see it at once, not when the child's test would end.
func childFail(format string, args ...any) {
	ack("error "+format, args...)
	os.Exit(3)
}

// crashState is what the children acknowledged, over all runs.
type crashState struct {
	puts     []string       // acknowledged Put ids
	batches  [][2]int       // acknowledged batches: run, n
	counters map[int]int    // run -> last acknowledged count
	runs     map[int]bool   // runs whose child reported ready
	acked    int            // acknowledged writes of every kind
	extra    map[string]int // per kind, rows present that were never acknowledged

	// checked holds each row as an earlier verification found it whole, so
	// a row unchanged since costs one comparison instead of a full check:
	// the check grows with the file, and the file grows with every kill.
	checked map[string]checkedRow
}

type checkedRow struct {
	data string
	doc  crashDoc
}

// absorb records the acknowledgements of one child.
func (s *crashState) absorb(tb testing.TB, run int, lines []string) {
	tb.Helper()
	for _, line := range lines {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "ready":
			s.runs[run] = true
		case len(f) == 2 && f[0] == "put":
			s.puts = append(s.puts, f[1])
			s.acked++
		case len(f) == 2 && f[0] == "batch":
			n, err := strconv.Atoi(f[1])
			if err != nil {
				tb.Fatalf("child %d: bad line %q", run, line)
			}
			s.batches = append(s.batches, [2]int{run, n})
			s.acked++
		case len(f) == 3 && f[0] == "inc":
			c, err := strconv.Atoi(f[2])
			if err != nil || f[1] != crashCounterID(run) {
				tb.Fatalf("child %d: bad line %q", run, line)
			}
			s.counters[run] = c
			s.acked++
		case len(f) > 0 && f[0] == "error":
			tb.Fatalf("child %d failed a write: %s", run, line)
		default:
			tb.Fatalf("child %d: unexpected output %q", run, line)
		}
	}
}

// crashFigures are TestCrashSafety's results, for RELIABILITY.md.
type crashFigures struct {
	Test            string  `json:"test"`
	Seed            uint64  `json:"seed"`
	Kills           int     `json:"kills"`
	WritesAcked     int     `json:"writes_acknowledged"`
	WritesLost      int     `json:"writes_lost"`
	UnackedVisible  int     `json:"unacknowledged_writes_visible"`
	Rows            int     `json:"rows"`
	IntegrityChecks int     `json:"integrity_checks_ok"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
}

// TestCrashSafety SIGKILLs a writing child process (TestCrashChild) at
// random moments, over and over, on one SQLite file. After every kill the
// file must pass PRAGMA integrity_check, hold every write the child
// acknowledged with its exact data, and show no half-written state: every
// row is a whole document, every InsertMany batch is all there or absent,
// and each UpdateFunc counter is at its last acknowledged value or one
// past it (an increment that committed just before the kill).
func TestCrashSafety(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	if v := os.Getenv(envCrashKills); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", envCrashKills, v)
		}
		kills = n
	}
	seed := rand.Uint64()
	if v := os.Getenv(envCrashSeed); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envCrashSeed, v, err)
		}
	}
	t.Logf("seed %d (set %s=%d to repeat the kill timings)", seed, envCrashSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	path := filepath.Join(t.TempDir(), "crash.db")
	state := &crashState{counters: map[int]int{}, runs: map[int]bool{}, extra: map[string]int{}, checked: map[string]checkedRow{}}
	budget := crashBudget
	if raceEnabled {
		// integrity_check alone takes 0.6 s per kill on the final file.
		budget *= 2
	}
	start := time.Now()
	fig := crashFigures{Test: "TestCrashSafety", Seed: seed}
	defer func() { // the figures are wanted most when the test fails
		fig.WritesAcked = state.acked
		for _, n := range state.extra {
			fig.UnackedVisible += n
		}
		fig.ElapsedSeconds = time.Since(start).Seconds()
		writeReport(t, fig)
	}()
	for run := 0; run < kills; run++ {
		if time.Since(start) > budget {
			t.Errorf("time budget %v spent after %d of %d kills", budget, run, kills)
			break
		}
		delay := time.Duration(20+rng.IntN(181)) * time.Millisecond
		lines := runCrashChild(t, path, run, delay)
		state.absorb(t, run, lines)
		fig.Kills++
		fig.Rows, fig.WritesLost = verifyCrashDB(t, path, state)
		fig.IntegrityChecks++
		if t.Failed() {
			t.Fatalf("after kill %d (run %d, killed %v after ready)", fig.Kills, run, delay)
		}
	}
}

// runCrashChild starts the child on path, kills it delay after it is ready,
// and returns every line it printed.
func runCrashChild(tb testing.TB, path string, run int, delay time.Duration) []string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashChild+"="+path, envCrashRun+"="+strconv.Itoa(run))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start crash child: %v", err)
	}
	var (
		mu    sync.Mutex
		lines []string
		ready = make(chan struct{})
		eof   = make(chan struct{})
	)
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(out)
		once := sync.OnceFunc(func() { close(ready) })
		defer once()
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if sc.Text() == "ready" || strings.HasPrefix(sc.Text(), "error ") {
				once()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-eof
		cmd.Wait()
		tb.Fatalf("crash child %d never became ready; stderr: %s", run, stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatalf("kill crash child: %v", err)
	}
	<-eof
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		mu.Lock()
		defer mu.Unlock()
		tb.Fatalf("crash child %d ended with %v before it was killed; output %q; stderr: %s", run, err, lines, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return lines
}

// verifyCrashDB checks the file after a kill and returns its row count and
// the number of acknowledged writes missing from it.
func verifyCrashDB(t *testing.T, path string, state *crashState) (rows, lost int) {
	t.Helper()
	checkIntegrity(t, path)

	ctx := context.Background()
	db, err := persist.Open(ctx, sqliteURL(path), nil)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	st := mustStore(t, db, crashTable)
	docs := map[string]crashDoc{}
	batches := map[[2]int]int{}
	for rec, err := range st.List(ctx, nil) {
		if err != nil {
			t.Fatalf("List after kill: %v", err)
		}
		if c, ok := state.checked[rec.ID]; ok && c.data == string(rec.Data) {
			if c.doc.Kind == "batch" {
				batches[[2]int{c.doc.Run, c.doc.N}]++
			}
			docs[rec.ID] = c.doc
			continue
		}
		if err := jsonx.ValidateObject(rec.Data); err != nil {
			t.Errorf("row %s: data %q is not a valid document: %v", rec.ID, rec.Data, err)
			continue
		}
		var d crashDoc
		dec := json.NewDecoder(bytes.NewReader(rec.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Errorf("row %s: data %q: %v", rec.ID, rec.Data, err)
			continue
		}
		var want crashDoc
		var id string
		switch d.Kind {
		case "put":
			want, id = crashPutDoc(d.Run, d.N), crashPutID(d.Run, d.N)
		case "batch":
			want, id = crashBatchDoc(d.Run, d.N, d.K), crashBatchID(d.Run, d.N, d.K)
			batches[[2]int{d.Run, d.N}]++
		case "ctr":
			want, id = crashCounterDoc(d.Run, d.Count), crashCounterID(d.Run)
		}
		if d != want || rec.ID != id {
			t.Errorf("row %s: data %s, want id %s with %s", rec.ID, rec.Data, id, mustJSON(want))
			continue
		}
		docs[rec.ID] = d
		state.checked[rec.ID] = checkedRow{string(rec.Data), d}
	}
	if n, err := st.Count(ctx); err != nil || n != int64(len(docs)) {
		t.Errorf("Count = %d, %v; List gave %d rows", n, err, len(docs))
	}

	acked := map[string]bool{}
	for _, id := range state.puts {
		acked[id] = true
		if _, ok := docs[id]; !ok {
			t.Errorf("acknowledged Put %s is missing", id)
			lost++
		}
	}
	for key, n := range batches {
		if n != crashBatchSize {
			t.Errorf("batch %d of run %d has %d of %d records", key[1], key[0], n, crashBatchSize)
		}
	}
	ackedBatches := map[[2]int]bool{}
	for _, key := range state.batches {
		ackedBatches[key] = true
		if batches[key] != crashBatchSize {
			t.Errorf("acknowledged batch %d of run %d has %d of %d records", key[1], key[0], batches[key], crashBatchSize)
			lost++
		}
	}
	for run := range state.runs {
		d, ok := docs[crashCounterID(run)]
		if !ok {
			t.Errorf("counter of run %d is missing", run)
			lost++
			continue
		}
		if last := state.counters[run]; d.Count < last || d.Count > last+1 {
			t.Errorf("counter of run %d = %d, last acknowledged %d", run, d.Count, last)
			if d.Count < last {
				lost++
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}

	extra := map[string]int{}
	for id, d := range docs {
		switch d.Kind {
		case "put":
			if !acked[id] {
				extra["put"]++
			}
		case "batch":
			if !ackedBatches[[2]int{d.Run, d.N}] && d.K == 0 {
				extra["batch"]++
			}
		case "ctr":
			if d.Count > state.counters[d.Run] {
				extra["inc"]++
			}
		}
	}
	state.extra = extra
	return len(docs), lost
}

// checkIntegrity runs PRAGMA integrity_check on the file directly, without
// persist, before anything else opens it.
func checkIntegrity(tb testing.TB, path string) {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query("PRAGMA integrity_check")
	if err != nil {
		tb.Fatalf("integrity_check: %v", err)
	}
	defer rows.Close()
	var result []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		result = append(result, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("integrity_check: %v", err)
	}
	if len(result) != 1 || result[0] != "ok" {
		tb.Fatalf("integrity_check = %q, want ok", result)
	}
}
