package migrate_test

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

	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/migrate"
)

const (
	envKillSource = "PERSIST_MIGRATE_KILL_SOURCE" // the child's source URL
	envKillTarget = "PERSIST_MIGRATE_KILL_TARGET" // the child's target URL
)

// TestKillChild is the migration TestCopy_PostgresKilledMidwayThenResumed
// kills; run on its own it skips. It prints "copied N" after each batch
// the target has committed, and slows down past the first half so that
// the kill lands in the middle of the copy.
func TestKillChild(t *testing.T) {
	src, dst := os.Getenv(envKillSource), os.Getenv(envKillTarget)
	if src == "" || dst == "" {
		t.Skip("runs only as the child process of TestCopy_PostgresKilledMidwayThenResumed")
	}
	a, b := mustOpenURL(t, src), mustOpenURL(t, dst)
	_, err := migrate.Copy(context.Background(), a, b, &migrate.Options{BatchSize: 100, Progress: func(p migrate.Progress) {
		if p.Phase != migrate.PhaseCopy || p.Done == 0 {
			return
		}
		fmt.Printf("copied %d\n", p.Done)
		if p.Done*2 >= p.Total {
			time.Sleep(50 * time.Millisecond)
		}
	}})
	t.Fatalf("Copy returned %v; it should have been killed", err)
}

func TestCopy_PostgresKilledMidwayThenResumed(t *testing.T) {
	const n = 4000
	path := filepath.Join(t.TempDir(), "src.sqlite")
	src := mustOpenURL(t, sqliteURL(path))
	mustSeed(t, src, "runs", n)
	base := pgtest.URL(t)
	schema := pgtest.Schema(t, base, "migrate_test_")
	// The child and the re-run both ask for the GIN index.
	dstURL := pgtest.WithSearchPath(t, base, schema, map[string]string{"query_index": "true"})

	// The first run copies into the empty table, so it writes with COPY;
	// it is killed with SIGKILL halfway, leaving committed batches behind
	// and the deferred GIN index missing.
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillSource+"="+sqliteURL(path), envKillTarget+"="+dstURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		if done, ok := strings.CutPrefix(sc.Text(), "copied "); ok {
			if k, _ := strconv.Atoi(done); k >= n/2 {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
				break
			}
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the child ended before it could be killed")
	}

	dst := mustOpenURL(t, dstURL)
	copied := mustCount(t, dst, "runs")
	if copied < n/2 || copied >= n {
		t.Fatalf("%d rows on the target after the kill; want a partial copy of at least %d", copied, n/2)
	}
	// The re-run finds a table with rows: it must skip them, insert the
	// rest and verify everything.
	r := mustCopy(t, src, dst, &migrate.Options{BatchSize: 100})
	wantTotals(t, r, n, n-copied, copied, 0)
	mustEqualTables(t, src, dst, "runs", false)
	if got := ginIndexes(t, base, schema, "runs"); got != 1 {
		t.Fatalf("%d GIN indexes on runs after the resumed Copy, want 1", got)
	}
}
