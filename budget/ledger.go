package budget

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/persistkit/persist"
)

// Ledger enforces budgets and records spend on any [persist.DB]. It is safe
// for concurrent use, and any number of Ledgers, in any number of
// processes, may share one database: every decision that admits spend is
// made inside a database transaction that holds the counters it reads, so
// no interleaving can overspend.
//
// Under contention a Ledger combines the reservations and settlements its
// callers make concurrently into shared transactions, applied one after
// another inside each, so a hot budget pays one lock and one commit for
// many operations. Each caller still gets its own outcome; the result is
// the same as with one transaction per operation. Use one Ledger per
// process and database to get the most from it.
type Ledger struct {
	db  persist.DB
	cfg config

	// known remembers counter ids this process has seen exist, so that the
	// first request of a period inserts its counter once, outside the hot
	// transaction. Bounded by clearing it when it grows large.
	knownMu sync.Mutex
	known   map[string]struct{}

	lastSweep atomic.Int64 // unix seconds of the last opportunistic sweep

	group combiner[*job] // where operations are combined (see ops.go)

	hot    hotCounters // counters as this Ledger last committed them (see hot.go)
	limits limitCache  // budgets as this Ledger last read them (see limitcache.go)

	usageIx usageIndexes // the requests table's indexes declared so far (see usage.go)
}

// New returns a Ledger over db. Its tables (see [Options.Prefix] and
// [Options.RequestsTable]) are created by the first operation that uses
// them, as [persist.DB.Store] does. The Ledger does not own db: close db
// when done with both.
func New(db persist.DB, opts *Options) (*Ledger, error) {
	if db == nil {
		return nil, fmt.Errorf("budget: new: %w: nil DB", persist.ErrInvalid)
	}
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{cfg.limits, cfg.counters, cfg.holds, cfg.requests} {
		if _, err := db.Store(name); err != nil {
			return nil, fmt.Errorf("budget: new: table %s: %w", name, err)
		}
	}
	l := &Ledger{db: db, cfg: cfg, known: make(map[string]struct{})}
	l.group.exec = l.execute
	l.usageIx.sem = make(chan struct{}, 1)
	return l, nil
}

// Request asks for budget on behalf of one model call.
type Request struct {
	// Scopes names the organization, team and principal the call is made
	// for; empty fields omit a tier, but one must be set.
	Scopes Scopes

	// Estimate is the most the call is expected to cost: the amount
	// [Ledger.Reserve] holds. It must be positive for Reserve; Check also
	// accepts zero, asking whether any budget is already exhausted.
	Estimate Micros
}

// target is one budget's counter for the period in force at a given time.
type target struct {
	budget     Budget
	start, end time.Time
	id         string // counter record id
}

func counterID(s Scope, p Period, start time.Time) string {
	return s.Tier.String() + "/" + p.key() + "/" + strconv.FormatInt(start.Unix(), 10) + "/" + s.ID
}

// plan loads the budgets of scopes and returns their counters for the period
// containing now, widest tier first. It reads the limits outside any
// transaction: a limit changed concurrently applies from the next call.
func (l *Ledger) plan(ctx context.Context, scopes []Scope, now time.Time) ([]target, error) {
	budgets := make([][]Budget, len(scopes))
	err := parallel(len(scopes), func(i int) error {
		var err error
		var rev int64
		budgets[i], rev, err = l.limitsOf(ctx, scopes[i])
		if err == nil {
			l.limits.put(scopes[i].String(), cachedLimits{budgets: budgets[i], rev: rev})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return targetsOf(scopes, budgets, now), nil
}

// planCached is plan from the budgets last read for each scope, with the
// checks that the batch admitting the reservation must make (see
// limitcache.go). It returns ok=false, to plan from the store, unless every
// scope is remembered and some budget applies.
func (l *Ledger) planCached(scopes []Scope, now time.Time) (targets []target, checks []limitCheck, ok bool) {
	budgets := make([][]Budget, len(scopes))
	checks = make([]limitCheck, len(scopes))
	for i, s := range scopes {
		v, found := l.limits.get(s.String())
		if !found {
			return nil, nil, false
		}
		budgets[i], checks[i] = v.budgets, limitCheck{id: s.String(), rev: v.rev}
	}
	targets = targetsOf(scopes, budgets, now)
	return targets, checks, len(targets) > 0
}

// targetsOf returns the counters of budgets, by scope, for the period
// containing now.
func targetsOf(scopes []Scope, budgets [][]Budget, now time.Time) []target {
	var targets []target
	for i, s := range scopes {
		for _, b := range budgets[i] {
			start := b.Period.Start(now)
			targets = append(targets, target{budget: b, start: start, end: b.Period.End(now), id: counterID(s, b.Period, start)})
		}
	}
	return targets
}

// parallel runs f(0) ... f(n-1) concurrently, f(0) in the calling
// goroutine, and returns the first error by index. The reads a request
// makes at each tier are independent: issuing them together costs one
// round trip of latency instead of one per tier.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { errs[i] = f(i) })
	}
	if n > 0 {
		errs[0] = f(0)
	}
	wg.Wait()
	return firstNonNil(errs)
}

func firstNonNil(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ensureCounters creates the counters this process has not seen yet.
// Creating them here, rather than inside the reserving transaction, keeps
// that transaction to reads and updates of existing rows.
func (l *Ledger) ensureCounters(ctx context.Context, targets []target) error {
	var cs persist.Store
	for _, t := range targets {
		l.knownMu.Lock()
		_, ok := l.known[t.id]
		l.knownMu.Unlock()
		if ok {
			continue
		}
		if cs == nil {
			var err error
			if cs, err = l.db.Store(l.cfg.counters); err != nil {
				return err
			}
		}
		data, err := newCounter(t).encode()
		if err != nil {
			return err
		}
		if _, err := cs.Insert(ctx, persist.Record{ID: t.id, Data: data}); err != nil && !errors.Is(err, persist.ErrConflict) {
			return err
		}
		l.knownMu.Lock()
		if len(l.known) >= 4096 {
			clear(l.known)
		}
		l.known[t.id] = struct{}{}
		l.knownMu.Unlock()
	}
	return nil
}

// forget drops the counters from the cache after a transaction found one
// missing (a cleared table), so the next attempt recreates them.
func (l *Ledger) forget(targets []target) {
	l.knownMu.Lock()
	for _, t := range targets {
		delete(l.known, t.id)
	}
	l.knownMu.Unlock()
}

// holdKey is the expiry, in Unix seconds, of a hold taken at now: at least
// the TTL away, rounded up to a bucket boundary so that a counter keeps few
// distinct expiries however many holds it has.
func (l *Ledger) holdKey(now time.Time) int64 {
	e := now.Unix() + l.cfg.ttl
	b := l.cfg.bucket
	if r := e % b; r != 0 {
		if r < 0 {
			r += b
		}
		e += b - r
	}
	return e
}

// unavailable reports whether err means the database could not be reached.
func unavailable(err error) bool { return errors.Is(err, persist.ErrUnavailable) }

// wrap prefixes a database error with the operation, keeping it matchable.
func wrap(op string, err error) error {
	return fmt.Errorf("budget: %s: %w", op, err)
}
