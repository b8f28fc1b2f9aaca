package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// envReplica makes the test binary run as a portal process, with the
// arguments in envReplicaArgs separated by newlines (see TestMain).
const (
	envReplica     = "PORTAL_TEST_REPLICA"
	envReplicaArgs = "PORTAL_TEST_REPLICA_ARGS"
)

// replica is a portal running in a process of its own.
type replica struct {
	cmd  *exec.Cmd
	base string // http://host:port
	done chan struct{}
}

var listening = regexp.MustCompile(`msg=listening url=(http://[^ ]+)/api/v1/`)

// startReplica starts a portal process on dbURL and waits until it
// listens. Cleanup stops it with SIGTERM, as an orchestrator would.
func startReplica(tb testing.TB, dbURL string) *replica {
	tb.Helper()
	args := []string{"-addr", "127.0.0.1:0", "-db", dbURL, "-no-seed", "-tick", "50ms"}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envReplica+"=1", envReplicaArgs+"="+strings.Join(args, "\n"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			} else if strings.Contains(sc.Text(), "level=ERROR") {
				fmt.Fprintln(os.Stderr, "replica:", sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-r.done
		if err := cmd.Wait(); err != nil {
			tb.Errorf("replica %s: %v", r.base, err)
		}
	})
	select {
	case r.base = <-found:
	case <-r.done:
		tb.Fatal("replica exited before it listened")
	case <-time.After(60 * time.Second):
		tb.Fatal("replica did not listen within 60s")
	}
	return r
}

// TestReplicas runs two portal processes on one database, PostgreSQL and
// a shared SQLite file. A client follows the events of replica A while
// writers go through replica B; midway the client disconnects, writes go
// on, and it reconnects, to replica B this time, with its Last-Event-ID.
// It must receive every write exactly once, and the delivery latencies
// of the first connection are reported.
func TestReplicas(t *testing.T) {
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "portal.db") },
	}
	if url := os.Getenv("PERSIST_TEST_POSTGRES"); url != "" {
		dbs["postgres"] = func(t *testing.T) string { return replicaSchema(t, url) }
	} else if os.Getenv("CI") == "true" {
		t.Fatal("missing environment variable PERSIST_TEST_POSTGRES")
	}
	for name, newDB := range dbs {
		t.Run(name, func(t *testing.T) {
			url := newDB(t)
			a := startReplica(t, url)
			b := startReplica(t, url)
			testReplicas(t, a, b)
		})
	}
}

func testReplicas(t *testing.T, a, b *replica) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	const wait = 30 * time.Second
	s := openStream(t, client, a.base+"/api/v1/events", "")
	last := s.next(t, "", wait).id

	// Three writers, each through its own records: insert, two updates,
	// delete, over and over.
	const writers, cycles = 3, 25
	var (
		mu     sync.Mutex
		writes = map[changeJSON]time.Time{}
		wg     sync.WaitGroup
		failed = make(chan error, writers)
	)
	do := func(method, path, body string, want int, c changeJSON) error {
		req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		sent := time.Now()
		mu.Lock()
		writes[c] = sent // before the request: the write may be delivered before its answer
		mu.Unlock()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return nil
	}
	for w := range writers {
		wg.Go(func() {
			for i := range cycles {
				id := fmt.Sprintf("run-%d-%d", w, i)
				path := "/api/v1/pipeline_runs/" + id
				c := changeJSON{Collection: "pipeline_runs", ID: id}
				steps := []struct {
					method, path, body string
					status             int
					op                 string
					rev                int64
				}{
					{"POST", "/api/v1/pipeline_runs", `{"id":"` + id + `","data":{"state":"queued"}}`, http.StatusCreated, "insert", 1},
					{"PATCH", path, `{"data":{"state":"running"}}`, http.StatusOK, "update", 2},
					{"PUT", path, `{"data":{"state":"failed"}}`, http.StatusOK, "update", 3},
					{"DELETE", path, "", http.StatusNoContent, "delete", 3},
				}
				for _, st := range steps {
					c.Op, c.Revision = st.op, st.rev
					if err := do(st.method, st.path, st.body, st.status, c); err != nil {
						failed <- err
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	total := writers * cycles * 4

	got := map[changeJSON]int{}
	var latencies []time.Duration
	receive := func(s *sseStream, n int, measure bool) {
		t.Helper()
		for range n {
			ev := s.next(t, "change", wait)
			c := ev.change(t)
			got[c]++
			last = ev.id
			if measure {
				mu.Lock()
				sent, ok := writes[c]
				mu.Unlock()
				if ok {
					latencies = append(latencies, ev.at.Sub(sent))
				}
			}
		}
	}
	receive(s, total/3, true)
	s.close() // the client goes away mid-stream; the writers go on
	time.Sleep(200 * time.Millisecond)
	s = openStream(t, client, b.base+"/api/v1/events", last)
	receive(s, total-total/3, false)
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Fatal(err)
	}
	// Nothing more may come: every write has been delivered once.
	fence := changeJSON{Collection: "sources", ID: "fence", Op: "insert", Revision: 1}
	if err := do("POST", "/api/v1/sources", `{"id":"fence","data":{}}`, http.StatusCreated, fence); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t, "change", wait); ev.change(t) != fence {
		t.Fatalf("after the last write came %s, want the fence", ev.data)
	}
	s.close()

	lost, dup := 0, 0
	for c := range writes {
		if c == fence {
			continue
		}
		switch n := got[c]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	if lost != 0 || dup != 0 || len(got) != total {
		t.Fatalf("%d writes: %d lost, %d duplicated, %d distinct received", total, lost, dup, len(got))
	}
	slices.Sort(latencies)
	t.Logf("%d writes, 0 lost, 0 duplicated; delivery from the start of the write through B to the client of A, %d measured: p50 %v, p99 %v, max %v",
		total, len(latencies), latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1])
}

// replicaSchema creates a schema of its own for the replicas, dropped on
// cleanup, and returns url with it on the search_path.
func replicaSchema(t *testing.T, url string) string {
	schema := fmt.Sprintf("portal_replicas_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "options=-c%20search_path%3D" + schema
}
