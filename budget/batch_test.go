package budget_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// lineUp runs each call in its own goroutine while the ledger's lane
// leaders are held, waits until all of them are queued, then lets them run as
// one batch, and returns their errors in call order.
func lineUp(t *testing.T, l *budget.Ledger, calls ...func() error) []error {
	t.Helper()
	queued, release := budget.HoldCombiner(l)
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() { errs[i] = call() })
		// Queue them in call order, so the batch applies them in it.
		deadline := time.Now().Add(10 * time.Second)
		for queued() < i+1 {
			if time.Now().After(deadline) {
				release()
				t.Fatalf("%d of %d operations queued", queued(), i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	release()
	wg.Wait()
	return errs
}

func TestCombined(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		mustSet(t, l, budget.Budget{Scope: keyAlice, Period: budget.Daily, Limit: m(t, "4")})
		org := budget.Scopes{Org: "acme"}
		res := make([]*budget.Reservation, 5)
		reserve := func(i int, s budget.Scopes, est string) func() error {
			return func() error {
				var err error
				res[i], err = l.Reserve(ctx, budget.Request{Scopes: s, Estimate: m(t, est)})
				return err
			}
		}

		// Five reservations in one transaction, decided one after another.
		errs := lineUp(t, l,
			reserve(0, org, "3"),
			reserve(1, allScopes, "3"),
			reserve(2, allScopes, "3"), // the principal has 1 left
			reserve(3, org, "3"),
			reserve(4, org, "3"), // the organization has 1 left
		)
		for i, want := range []bool{true, true, false, true, false} {
			if got := errs[i] == nil; got != want {
				t.Errorf("reservation %d: err=%v, want admitted=%v", i, errs[i], want)
			}
		}
		var ee *budget.ExceededError
		if !errors.As(errs[2], &ee) || ee.Decision.DeniedBy != budget.Principal {
			t.Errorf("reservation 2: err=%v, want denied by the principal", errs[2])
		} else if rem, _ := ee.Decision.Remaining(budget.Org); rem != m(t, "4") {
			t.Errorf("reservation 2: org remaining %v, want 4 after the two before it", rem)
		}
		if !errors.As(errs[4], &ee) || ee.Decision.DeniedBy != budget.Org {
			t.Errorf("reservation 4: err=%v, want denied by the org", errs[4])
		} else if rem, _ := ee.Decision.Remaining(budget.Org); rem != m(t, "1") {
			t.Errorf("reservation 4: org remaining %v, want 1", rem)
		}
		if u := usage(t, l, acme, budget.Daily); u.Reserved != m(t, "9") || u.Spent != 0 {
			t.Errorf("org: reserved %v spent %v, want 9 and 0", u.Reserved, u.Spent)
		}
		if u := usage(t, l, keyAlice, budget.Daily); u.Reserved != m(t, "3") {
			t.Errorf("principal: reserved %v, want 3", u.Reserved)
		}
		// One transaction: each counter was written once after its creation.
		counterRevisions(t, db, map[string]int64{"acme": 2, "key_alice": 2})

		// Settlements in one transaction.
		errs = lineUp(t, l,
			func() error { return res[0].Commit(ctx, m(t, "2")) },
			func() error { return res[1].Release(ctx) },
			func() error { return res[3].Commit(ctx, m(t, "4")) },
		)
		for i, err := range errs {
			if err != nil {
				t.Errorf("settlement %d: %v", i, err)
			}
		}
		counterRevisions(t, db, map[string]int64{"acme": 3, "key_alice": 3})
		if u := usage(t, l, acme, budget.Daily); u.Reserved != 0 || u.Spent != m(t, "6") {
			t.Errorf("org: reserved %v spent %v, want 0 and 6", u.Reserved, u.Spent)
		}
		if u := usage(t, l, keyAlice, budget.Daily); u.Reserved != 0 || u.Spent != 0 {
			t.Errorf("principal: reserved %v spent %v, want 0 and 0", u.Reserved, u.Spent)
		}
		hs, err := db.Store("budget_holds")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := hs.Count(ctx); err != nil || n != 0 {
			t.Errorf("hold records=%d, %v, want 0", n, err)
		}

		t.Run("OverflowFailsAlone", func(t *testing.T) {
			big := budget.Scope{Tier: budget.Principal, ID: "big"}
			mustSet(t, l, budget.Budget{Scope: big, Period: budget.Daily, Limit: math.MaxInt64})
			s := budget.Scopes{Principal: "big"}
			a, b, c := mustReserve(t, l, s, 1), mustReserve(t, l, s, 1), mustReserve(t, l, s, 1)
			if err := a.Commit(ctx, math.MaxInt64-1); err != nil {
				t.Fatal(err)
			}
			errs := lineUp(t, l,
				func() error { return b.Commit(ctx, 5) }, // overflows
				func() error { return c.Commit(ctx, 1) },
			)
			if !errors.Is(errs[0], budget.ErrOverflow) || !errors.Is(errs[0], persist.ErrInvalid) {
				t.Errorf("overflowing Commit err=%v, want ErrOverflow", errs[0])
			}
			if errs[1] != nil {
				t.Errorf("the other Commit: %v", errs[1])
			}
			if u := usage(t, l, big, budget.Daily); u.Spent != math.MaxInt64 || u.Reserved != 1 {
				t.Errorf("spent %v reserved %v, want the maximum and b's hold", u.Spent, u.Reserved)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatalf("Release after the failed Commit: %v", err)
			}
			if u := usage(t, l, big, budget.Daily); u.Reserved != 0 {
				t.Errorf("reserved %v after Release, want 0", u.Reserved)
			}
		})
	})
}

// counterRevisions checks the revision of each scope's only counter.
func counterRevisions(t *testing.T, db persist.DB, want map[string]int64) {
	t.Helper()
	cs, err := db.Store("budget_counters")
	if err != nil {
		t.Fatal(err)
	}
	for scope, rev := range want {
		n := 0
		for rec, err := range cs.Query(context.Background(), json.RawMessage(`{"scope":"`+scope+`"}`), nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if rec.Revision != rev {
				t.Errorf("counter %s: revision %d, want %d", rec.ID, rec.Revision, rev)
			}
		}
		if n != 1 {
			t.Errorf("%d counters for %s, want 1", n, scope)
		}
	}
}

// TestCombinedCopyOutOfDate has a second ledger on the same database (as
// another process would be) change a counter behind the ledger's
// copy of it, both ways: the copy says the estimate fits when it does not,
// and says it does not when it does. Either way the decision must be the
// one the stored counter gives.
func TestCombinedCopyOutOfDate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l1, l2 := mustLedger(t, db, nil), mustLedger(t, db, nil)
		mustSet(t, l1, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		org := budget.Scopes{Org: "acme"}
		reserve := func(est string) (*budget.Reservation, error) {
			return l1.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, est)})
		}
		reserved := func(want string) {
			t.Helper()
			if u := usage(t, l1, acme, budget.Daily); u.Reserved != m(t, want) {
				t.Fatalf("reserved %v, want %s", u.Reserved, want)
			}
		}

		other := mustReserve(t, l2, org, m(t, "5"))
		// From here on l1 remembers the counter.
		if errs := lineUp(t, l1, func() error { _, err := reserve("4"); return err }); errs[0] != nil {
			t.Fatal(errs[0])
		}
		reserved("9")
		if n := budget.Remembered(l1); n != 1 {
			t.Fatalf("l1 remembers %d counters, want 1", n)
		}

		// The copy says 9 of 10 are held; the store says 4.
		if err := other.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := reserve("3"); err != nil {
			t.Fatalf("Reserve 3 with 4 of 10 held: %v", err)
		}
		reserved("7")

		// The copy says 7 are held; the store says 10.
		mustReserve(t, l2, org, m(t, "3"))
		_, err := reserve("2")
		var ee *budget.ExceededError
		if !errors.As(err, &ee) {
			t.Fatalf("Reserve 2 with 10 of 10 held: err=%v, want ErrExceeded", err)
		}
		if rem, _ := ee.Decision.Remaining(budget.Org); rem != 0 {
			t.Errorf("decision: remaining %v, want 0 (the stored counter's)", rem)
		}
		reserved("10")
		if n := budget.Remembered(l1); n != 0 {
			t.Errorf("l1 still remembers %d counters after finding one out of date", n)
		}
		hs, err := db.Store("budget_holds")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := hs.Count(ctx); err != nil || n != 3 {
			t.Errorf("hold records=%d, %v, want 3 (the denied attempt's rolled back)", n, err)
		}
	})
}

// TestCountersCleared clears the counters table under a ledger that
// remembers its counter (known to exist, and copied): the
// next operations recreate it rather than fail.
func TestCountersCleared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		org := budget.Scopes{Org: "acme"}
		var r *budget.Reservation
		errs := lineUp(t, l, func() (err error) {
			r, err = l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "4")})
			return err
		})
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
		if err := r.Commit(ctx, m(t, "3")); err != nil {
			t.Fatal(err)
		}
		if n := budget.Remembered(l); n != 1 {
			t.Fatalf("remembers %d counters, want 1", n)
		}
		cs, err := db.Store("budget_counters")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		// Both find the counter missing and retry on their own, in either
		// order; one fits.
		errs = lineUp(t, l,
			func() error { _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "6")}); return err },
			func() error { _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "5")}); return err },
		)
		want := "6"
		admitted, denied := errs[0], errs[1]
		if errs[0] != nil {
			want, admitted, denied = "5", errs[1], errs[0]
		}
		var ee *budget.ExceededError
		if admitted != nil || !errors.As(denied, &ee) {
			t.Errorf("Reserve 6 and 5 after the clear: errs %v, want one admitted and one ErrExceeded", errs)
		}
		if u := usage(t, l, acme, budget.Daily); u.Reserved != m(t, want) || u.Spent != 0 {
			t.Errorf("reserved %v spent %v, want %s and 0 (the clear reset the period)", u.Reserved, u.Spent, want)
		}
	})
}

// TestLimitChangedElsewhere changes budgets through a second ledger on the
// same database (another process) while the first plans from the budgets
// it remembers: each change applies from the first ledger's next Reserve.
func TestLimitChangedElsewhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l1, l2 := mustLedger(t, db, nil), mustLedger(t, db, nil)
		mustSet(t, l2, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		scopes := budget.Scopes{Org: "acme", Team: "acme/ml"}
		reserve := func(est string) error {
			_, err := l1.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: m(t, est)})
			return err
		}
		for range 3 { // remembered from here on
			if err := reserve("1"); err != nil {
				t.Fatal(err)
			}
		}
		// Lowered: 3 held, limit 4.
		mustSet(t, l2, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "4")})
		if err := reserve("2"); !errors.Is(err, budget.ErrExceeded) {
			t.Errorf("Reserve 2 after the limit fell to 4 with 3 held: err=%v, want ErrExceeded", err)
		}
		// Raised: 3 held, limit 100.
		mustSet(t, l2, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "100")})
		if err := reserve("50"); err != nil {
			t.Errorf("Reserve 50 after the limit rose to 100: %v", err)
		}
		// A budget where there was none: the team may spend 1.
		mustSet(t, l2, budget.Budget{Scope: acmeML, Period: budget.Daily, Limit: m(t, "1")})
		if err := reserve("2"); !errors.Is(err, budget.ErrExceeded) {
			t.Errorf("Reserve 2 after the team got a limit of 1: err=%v, want ErrExceeded", err)
		}
		if err := reserve("1"); err != nil {
			t.Errorf("Reserve 1 within the team's new limit: %v", err)
		}
		if u := usage(t, l1, acme, budget.Daily); u.Reserved != m(t, "54") {
			t.Errorf("org reserved %v, want 54", u.Reserved)
		}
	})
}
