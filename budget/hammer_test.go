package budget_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist/budget"
)

// The hammer: hammerProcs processes of hammerWorkers goroutines each share
// one organization budget.
const (
	hammerProcs    = 3
	hammerWorkers  = 64
	hammerMaxEst   = 1000 // micros
	envHammerURL   = "BUDGET_TEST_HAMMER_URL"
	envHammerOps   = "BUDGET_TEST_HAMMER_OPS"
	envHammerPlain = "BUDGET_TEST_HAMMER_PLAIN" // set: the process hides persist.Batcher
)

// hammerNow is the clock of every process: one fixed instant, so the test
// never straddles a period boundary and no hold expires.
var hammerNow = func() time.Time { return time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC) }

var hammerScope = budget.Scope{Tier: budget.Org, ID: "hammer"}

// hammerStats is what one process reports of its own operations.
type hammerStats struct {
	Admitted  int           // reservations granted
	Denied    int           // ErrExceeded in phase 1
	Committed budget.Micros // sum of committed actuals
	Excess    budget.Micros // sum of max(0, actual - estimate) over commits
	Live      budget.Micros // sum of estimates left unsettled
	LiveCount int
	MaxEst    budget.Micros
	Drained   int // phase-2 workers that ended with a denial
}

func (s *hammerStats) add(o hammerStats) {
	s.Admitted += o.Admitted
	s.Denied += o.Denied
	s.Committed += o.Committed
	s.Excess += o.Excess
	s.Live += o.Live
	s.LiveCount += o.LiveCount
	s.MaxEst = max(s.MaxEst, o.MaxEst)
	s.Drained += o.Drained
}

func hammerOps() int {
	if n, err := strconv.Atoi(os.Getenv(envHammerOps)); err == nil && n > 0 {
		return n
	}
	if raceEnabled {
		return 20
	}
	return 100
}

// TestNeverOverspend runs the hammer against each backend, then checks from
// the database that the budget's spend and holds are exactly what the
// processes did, that admissions never exceeded the limit, and that the
// processes were not denied needlessly.
//
// Admissions: over all commits and live holds, the sum of
// min(actual, estimate) plus the live estimates must stay within the limit;
// actuals above their estimate are recorded in full and may take the spend
// past the limit by exactly that excess, which is allowed. No needless
// denial: phase 2 reserves and commits actual == estimate until denied, so
// spend never decreases while it runs, and each worker's final denial
// proves spent+reserved > limit - its estimate.
func TestNeverOverspend(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, &budget.Options{Clock: hammerNow})
		ops := hammerOps()
		limit := budget.Micros(ops * hammerProcs * hammerWorkers * 150)
		mustSet(t, l, budget.Budget{Scope: hammerScope, Period: budget.Daily, Limit: limit})

		type child struct {
			cmd   *exec.Cmd
			stdin io.WriteCloser
			lines chan string
			out   strings.Builder
			mu    sync.Mutex
		}
		// Children die with the test: on failure, timeout or success alike.
		cctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
		defer cancel()
		children := make([]*child, hammerProcs)
		for i := range children {
			c := &child{lines: make(chan string, 4)}
			c.cmd = exec.CommandContext(cctx, os.Args[0], "-test.run=^TestHammerHelper$", "-test.timeout=8m")
			c.cmd.Env = append(os.Environ(), envHammerURL+"="+url, envHammerOps+"="+strconv.Itoa(ops))
			if i == 0 {
				// One process settles one record at a time, the others
				// in batches: both paths, side by side.
				c.cmd.Env = append(c.cmd.Env, envHammerPlain+"=1")
			}
			var err error
			if c.stdin, err = c.cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			stdout, err := c.cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			c.cmd.Stderr = c.cmd.Stdout
			if err := c.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				defer close(c.lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					line := sc.Text()
					c.mu.Lock()
					c.out.WriteString(line + "\n")
					c.mu.Unlock()
					if rest, ok := strings.CutPrefix(line, "HAMMER "); ok {
						c.lines <- rest
					}
				}
			}()
			children[i] = c
		}
		fail := func(c *child, format string, args ...any) {
			t.Helper()
			cancel()
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("%s\nchild output:\n%s", fmt.Sprintf(format, args...), c.out.String())
		}
		next := func(c *child) (string, bool) {
			select {
			case line, ok := <-c.lines:
				return line, ok
			case <-cctx.Done():
				return "", false
			}
		}
		// Barrier: every process finishes phase 1 before any starts phase 2.
		for _, c := range children {
			if line, ok := next(c); !ok || line != "READY" {
				fail(c, "child did not finish phase 1")
			}
		}
		for _, c := range children {
			if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
				fail(c, "write to child: %v", err)
			}
		}
		var total hammerStats
		for _, c := range children {
			line, ok := next(c)
			rest, isStats := strings.CutPrefix(line, "STATS ")
			if !ok || !isStats {
				fail(c, "child did not report")
			}
			var s hammerStats
			if err := json.Unmarshal([]byte(rest), &s); err != nil {
				fail(c, "stats %q: %v", rest, err)
			}
			for range c.lines { // drain until exit
			}
			if err := c.cmd.Wait(); err != nil {
				fail(c, "child: %v", err)
			}
			total.add(s)
		}
		t.Logf("limit %v: %d admitted, %d denied in phase 1; committed %v (excess %v), %d live holds %v",
			limit, total.Admitted, total.Denied, total.Committed, total.Excess, total.LiveCount, total.Live)

		u := usage(t, l, hammerScope, budget.Daily)
		if u.Spent != total.Committed {
			t.Errorf("spent %v in the database, but the processes committed %v", u.Spent, total.Committed)
		}
		if u.Reserved != total.Live {
			t.Errorf("reserved %v in the database, but the processes hold %v", u.Reserved, total.Live)
		}
		hs, err := db.Store("budget_holds")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := hs.Count(ctx); err != nil || n != int64(total.LiveCount) {
			t.Errorf("%d hold records, %v; want %d", n, err, total.LiveCount)
		}
		if admitted := u.Spent + u.Reserved - total.Excess; admitted > limit {
			t.Errorf("OVERSPEND: admissions %v exceed the limit %v", admitted, limit)
		}
		if total.Denied == 0 {
			t.Errorf("no denial in phase 1: the limit was never contended")
		}
		if total.Drained != hammerProcs*hammerWorkers {
			t.Errorf("%d phase-2 workers ended with a denial, want %d", total.Drained, hammerProcs*hammerWorkers)
		}
		if used := u.Spent + u.Reserved; used < limit-total.MaxEst {
			t.Errorf("needless denial: %v used when the limit %v was contended (largest estimate %v)", used, limit, total.MaxEst)
		}
	})
}

// TestHammerHelper is one process of TestNeverOverspend; it runs only when
// that test starts it.
func TestHammerHelper(t *testing.T) {
	url := os.Getenv(envHammerURL)
	if url == "" {
		t.Skip("helper process of TestNeverOverspend")
	}
	ctx := context.Background()
	db := mustOpen(t, url)
	if os.Getenv(envHammerPlain) != "" {
		db = plainDB{db}
	}
	l := mustLedger(t, db, &budget.Options{Clock: hammerNow})
	ops := hammerOps()
	scopes := budget.Scopes{Org: hammerScope.ID}
	var (
		mu    sync.Mutex
		stats hammerStats
		wg    sync.WaitGroup
	)
	reserve := func(est budget.Micros) (*budget.Reservation, bool) {
		r, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: est})
		if errors.Is(err, budget.ErrExceeded) {
			return nil, false
		}
		if err != nil {
			t.Errorf("Reserve: %v", err)
			return nil, false
		}
		return r, true
	}
	commit := func(r *budget.Reservation, actual budget.Micros) bool {
		if err := r.Commit(ctx, actual); err != nil {
			t.Errorf("Commit: %v", err)
			return false
		}
		return true
	}

	// Phase 1: random estimates, commits below and above them, releases,
	// and holds left live.
	for range hammerWorkers {
		wg.Go(func() {
			var s hammerStats
			for range ops {
				est := 1 + budget.Micros(rand.IntN(hammerMaxEst))
				s.MaxEst = max(s.MaxEst, est)
				r, ok := reserve(est)
				if !ok {
					s.Denied++
					continue
				}
				s.Admitted++
				switch p := rand.IntN(100); {
				case p < 55:
					actual := budget.Micros(rand.Int64N(int64(est) + 1))
					if commit(r, actual) {
						s.Committed += actual
					}
				case p < 65:
					actual := est + 1 + budget.Micros(rand.Int64N(int64(est)))
					if commit(r, actual) {
						s.Committed += actual
						s.Excess += actual - est
					}
				case p < 85:
					if err := r.Release(ctx); err != nil {
						t.Errorf("Release: %v", err)
					}
				default:
					s.Live += est
					s.LiveCount++
				}
			}
			mu.Lock()
			stats.add(s)
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Println("HAMMER READY")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for phase 2: %v", err)
	}

	// Phase 2: reserve and commit exactly the estimate until denied.
	for range hammerWorkers {
		wg.Go(func() {
			var s hammerStats
			for {
				est := 1 + budget.Micros(rand.IntN(hammerMaxEst))
				s.MaxEst = max(s.MaxEst, est)
				r, ok := reserve(est)
				if !ok {
					s.Drained++
					break
				}
				s.Admitted++
				if !commit(r, est) {
					break
				}
				s.Committed += est
			}
			mu.Lock()
			stats.add(s)
			mu.Unlock()
		})
	}
	wg.Wait()
	b, err := json.Marshal(stats)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("HAMMER STATS " + string(b))
}
