package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/sqlite"
)

func TestChangeFeed(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		persisttest.TestChangeFeed(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
			path := filepath.Join(t.TempDir(), "feed.db")
			lg := sqlitetest.OpenLegacy(t, path)
			db, err := sqlite.Open(t.Context(), path, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db, lg
		})
	})
	t.Run("Memory", func(t *testing.T) {
		persisttest.TestChangeFeed(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
			db, err := sqlite.Open(t.Context(), ":memory:", nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db, nil
		})
	})
}

const (
	envFeedPath   = "PERSIST_FEED_CHILD_PATH"   // the child's database file
	envFeedCursor = "PERSIST_FEED_CHILD_CURSOR" // where the child starts
	envFeedN      = "PERSIST_FEED_CHILD_N"      // how many changes it reads
)

// TestFeedChild is the consumer process of TestChangeFeed_CrossProcess;
// run on its own it skips. It follows the feed from the cursor it is
// given and prints "change ID CURSOR" for each of the first N changes.
func TestFeedChild(t *testing.T) {
	path := os.Getenv(envFeedPath)
	if path == "" {
		t.Skip("runs only as the child process of TestChangeFeed_CrossProcess")
	}
	n, _ := strconv.Atoi(os.Getenv(envFeedN))
	db, err := sqlite.Open(context.Background(), path, nil)
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
// writes this one commits, and a third handle resumes from the cursor the
// consumer stopped at, receiving every later change once.
func TestChangeFeed_CrossProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feed.db")
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.EnableFeed(t.Context(), "runs"); err != nil {
		t.Fatal(err)
	}
	s := MustStore(t, db, "runs")
	MustPut(t, s, "before", `{}`)
	cur, err := db.Cursor(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestFeedChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFeedPath+"="+path, envFeedCursor+"="+cur, envFeedN+"=5")
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
		MustPut(t, s, fmt.Sprint("r", i), `{}`)
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

	db2, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	ids = ids[:0]
	for c, err := range db2.Changes(t.Context(), last, nil) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "r5,r6,r7,r8,r9" {
		t.Fatalf("resumed with %s, want r5..r9", got)
	}
}

func TestWriteMarker(t *testing.T) {
	t.Run("File", func(t *testing.T) {
		persisttest.TestWriteMarker(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
			path := filepath.Join(t.TempDir(), "mark.db")
			lg := sqlitetest.OpenLegacy(t, path)
			db, err := sqlite.Open(t.Context(), path, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db, lg
		}, false)
	})
	t.Run("Memory", func(t *testing.T) {
		persisttest.TestWriteMarker(t, func(t *testing.T) (persist.DB, persisttest.Legacy) {
			db, err := sqlite.Open(t.Context(), ":memory:", nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db, nil
		}, false)
	})
}
