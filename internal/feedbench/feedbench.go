// Package feedbench measures a change feed the way a service meets it:
// the delay from a write's commit to its delivery in another process, at
// a steady write rate, and what a consumer costs while nothing happens.
// Each backend's tests call it, so both are measured the same way.
package feedbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// The child process reads its orders from these.
const (
	envURL    = "PERSIST_FEEDBENCH_URL"
	envCursor = "PERSIST_FEEDBENCH_CURSOR"
	envN      = "PERSIST_FEEDBENCH_N"
)

// Table is the table the benchmark writes and follows.
const Table = "feed_latency"

// writers is how many goroutines share the writes, so that the rate holds
// when one Put waits for a commit.
const writers = 16

// Child is the body of the consumer process: a test function named
// childTest in the backend's tests calls it. It opens the database of the
// URL it is given, follows the feed from the cursor it is given and
// prints "ID UNIXNANO" for each change as it receives it, until it has
// received N. Run on its own, it skips.
func Child(t *testing.T, open func(ctx context.Context, url string) (persist.DB, error)) {
	url := os.Getenv(envURL)
	if url == "" {
		t.Skip("runs only as the consumer process of a feed latency benchmark")
	}
	n, _ := strconv.Atoi(os.Getenv(envN))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, err := open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	feed := db.(persist.ChangeFeed)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "following")
	out.Flush()
	for c, err := range feed.Changes(ctx, os.Getenv(envCursor), &persist.FeedOptions{Tables: []string{Table}, Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "%s %d\n", c.ID, time.Now().UnixNano())
		out.Flush()
		if n--; n <= 0 {
			return
		}
	}
}

// Latency writes b.N records to Table of db at rate writes a second, by
// 16 writers, while a consumer process started as childTest of this
// test binary follows the feed of url (the same database). It reports
// the delay from the end of each Put (the commit acknowledged) to the
// consumer's receipt: p50 and p99 in milliseconds, and the write rate
// reached.
func Latency(b *testing.B, db persist.DB, url, childTest string, rate int) {
	ctx := context.Background()
	feed := db.(persist.ChangeFeed)
	if err := feed.EnableFeed(ctx, Table); err != nil {
		b.Fatal(err)
	}
	st, err := db.Store(Table)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Clear(ctx); err != nil {
		b.Fatal(err)
	}
	cur, err := feed.Cursor(ctx, &persist.FeedOptions{Tables: []string{Table}})
	if err != nil {
		b.Fatal(err)
	}
	n := b.N
	cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envURL+"="+url, envCursor+"="+cur, envN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "following" {
		b.Fatalf("consumer: %q, %v", sc.Text(), sc.Err())
	}
	received := make(map[string]int64, n)
	readDone := make(chan error, 1)
	go func() {
		for len(received) < n && sc.Scan() {
			id, at, _ := strings.Cut(sc.Text(), " ")
			ns, err := strconv.ParseInt(at, 10, 64)
			if err != nil {
				continue // the test framework's own output
			}
			received[id] = ns
		}
		readDone <- sc.Err()
	}()

	committed := make([]int64, n)
	jobs := make(chan int)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range jobs {
				doc := json.RawMessage(`{"state":"running","attempt":1}`)
				if _, err := st.Put(ctx, persist.Record{ID: fmt.Sprintf("w%07d", i), Data: doc}); err != nil {
					errs <- err
					return
				}
				committed[i] = time.Now().UnixNano()
			}
		})
	}
	b.ResetTimer()
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- i:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	select {
	case err := <-readDone:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(time.Minute):
		b.Fatalf("consumer received %d of %d changes within a minute", len(received), n)
	}
	b.StopTimer()
	if len(received) != n {
		b.Fatalf("consumer received %d of %d changes", len(received), n)
	}
	lat := make([]float64, 0, n)
	for i, c := range committed {
		lat = append(lat, float64(received[fmt.Sprintf("w%07d", i)]-c)/1e6)
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[min(len(lat)-1, len(lat)*99/100)], "p99-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "writes/s")
}

// Idle follows the feed of Table in db with nothing written, for b.N
// windows of 100 ms, and reports the process's CPU time per second of
// following, and the statements a second that queries counts (the
// database's side of the cost), when it is not nil.
func Idle(b *testing.B, db persist.DB, queries func() int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := db.(persist.ChangeFeed)
	if err := feed.EnableFeed(ctx, Table); err != nil {
		b.Fatal(err)
	}
	cur, err := feed.Cursor(ctx, &persist.FeedOptions{Tables: []string{Table}})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, err := range feed.Changes(ctx, cur, &persist.FeedOptions{Tables: []string{Table}, Follow: true}) {
			if err != nil && ctx.Err() == nil {
				b.Error(err)
			}
			return
		}
	}()
	time.Sleep(time.Second) // the watcher starts, and the first read is done
	var q0 int64
	if queries != nil {
		q0 = queries()
	}
	c0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		time.Sleep(100 * time.Millisecond)
	}
	secs := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/1e6/secs, "cpu-ms/s")
	if queries != nil {
		b.ReportMetric(float64(queries()-q0)/secs, "queries/s")
	}
	cancel()
	<-done
}
