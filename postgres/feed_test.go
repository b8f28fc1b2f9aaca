package postgres_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/postgres"
)

func TestChangeFeed(t *testing.T) {
	testURL(t)
	persisttest.TestChangeFeed(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
		u := withSearchPath(t, newSchema(t), nil)
		lg := pgtest.OpenLegacy(t, u)
		db, err := postgres.Open(t.Context(), u, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	})
}

// feedUntil follows the feed from cursor until a change of id arrives and
// returns the changes up to and including it.
func feedUntil(tb testing.TB, db *postgres.DB, cursor, id string) []persist.Change {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []persist.Change
	for c, err := range db.Changes(ctx, cursor, &persist.FeedOptions{Follow: true}) {
		if err != nil {
			tb.Fatalf("Changes: %v (after %d changes)", err, len(got))
		}
		got = append(got, c)
		if c.ID == id {
			return got
		}
	}
	return got
}

// TestChangeFeed_LateCommit: a transaction that wrote first and commits
// last is not skipped by a reader that has already seen a later one.
func TestChangeFeed_LateCommit(t *testing.T) {
	db, _ := mustOpen(t, nil)
	ctx := t.Context()
	if err := db.EnableFeed(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	s, err := db.Store("runs")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := db.Cursor(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}

	wrote, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("runs")
			if err != nil {
				return err
			}
			if _, err := ts.Put(ctx, persist.Record{ID: "first", Data: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			close(wrote)
			<-release
			return nil
		})
	}()
	select {
	case <-wrote:
	case err := <-done:
		t.Fatalf("Tx: %v", err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "second", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// Read what is readable now: "second" may or may not be there, and
	// "first" cannot be.
	var seen []string
	for c, err := range db.Changes(ctx, cur, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != "second" {
			t.Fatalf("read %s while the transaction that wrote it is open", c.ID)
		}
		seen = append(seen, c.ID)
		cur = c.Cursor
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "fence", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range feedUntil(t, db, cur, "fence") {
		seen = append(seen, c.ID)
	}
	count := map[string]int{}
	for _, id := range seen {
		count[id]++
	}
	if count["first"] != 1 || count["second"] != 1 || len(seen) != 3 {
		t.Fatalf("changes %q: want first and second once each, then fence", seen)
	}
}

const (
	envFeedURL    = "PERSIST_FEED_CHILD_URL"    // the child's database
	envFeedCursor = "PERSIST_FEED_CHILD_CURSOR" // where the child starts
	envFeedN      = "PERSIST_FEED_CHILD_N"      // how many changes it reads
)

// TestFeedChild is the consumer process of TestChangeFeed_CrossProcess;
// run on its own it skips. It follows the feed from the cursor it is
// given and prints "change ID CURSOR" for each of the first N changes.
func TestFeedChild(t *testing.T) {
	u := os.Getenv(envFeedURL)
	if u == "" {
		t.Skip("runs only as the child process of TestChangeFeed_CrossProcess")
	}
	n, _ := strconv.Atoi(os.Getenv(envFeedN))
	db, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fmt.Println("following")
	for c, err := range db.Changes(ctx, os.Getenv(envFeedCursor), &persist.FeedOptions{Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("change %s %s\n", c.ID, c.Cursor)
		if n--; n == 0 {
			return
		}
	}
}

// TestChangeFeed_CrossProcess: a consumer in another process receives the
// writes this one commits, woken by LISTEN/NOTIFY, and a new handle
// resumes from the cursor the consumer stopped at, receiving every later
// change once.
func TestChangeFeed_CrossProcess(t *testing.T) {
	u := withSearchPath(t, newSchema(t), nil)
	db, err := postgres.Open(t.Context(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	if err := db.EnableFeed(ctx, "runs"); err != nil {
		t.Fatal(err)
	}
	s, err := db.Store("runs")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := db.Cursor(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFeedChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFeedURL+"="+u, envFeedCursor+"="+cur, envFeedN+"=5")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "following" {
		t.Fatalf("child: %q, %v", sc.Text(), sc.Err())
	}
	for i := range 10 {
		if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprint("r", i), Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	var last string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "change "); ok {
			id, c, _ := strings.Cut(rest, " ")
			ids = append(ids, id)
			last = c
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if got := strings.Join(ids, ","); got != "r0,r1,r2,r3,r4" {
		t.Fatalf("child received %s, want r0..r4", got)
	}

	db2, err := postgres.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := s.Put(ctx, persist.Record{ID: "fence", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, c := range feedUntil(t, db2, last, "fence") {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "r5,r6,r7,r8,r9,fence" {
		t.Fatalf("resumed with %s, want r5..r9 and the fence", got)
	}
}

// TestChangeFeed_Closed: a follower stops with ErrClosed when its DB is
// closed.
func TestChangeFeed_Closed(t *testing.T) {
	db, _ := mustOpen(t, nil)
	if err := db.EnableFeed(t.Context(), "runs"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		for _, err := range db.Changes(t.Context(), "", &persist.FeedOptions{Follow: true}) {
			errc <- err
			return
		}
	}()
	<-started
	db.Close()
	if err := <-errc; !errors.Is(err, persist.ErrClosed) {
		t.Fatalf("follower after Close: %v, want ErrClosed", err)
	}
}

func TestWriteMarker(t *testing.T) {
	testURL(t)
	persisttest.TestWriteMarker(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
		u := withSearchPath(t, newSchema(t), nil)
		lg := pgtest.OpenLegacy(t, u)
		db, err := postgres.Open(t.Context(), u, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, lg
	}, true)
}
