package budget_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/persistkit/persist/budget"
)

var (
	acme      = budget.Scope{Tier: budget.Org, ID: "acme"}
	acmeML    = budget.Scope{Tier: budget.Team, ID: "acme/ml"}
	keyAlice  = budget.Scope{Tier: budget.Principal, ID: "key_alice"}
	allScopes = budget.Scopes{Org: "acme", Team: "acme/ml", Principal: "key_alice"}
)

func TestReserveCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})

		r := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "3"))
		d := r.Decision()
		if !d.Allowed || d.DeniedBy != 0 || len(d.Budgets) != 1 {
			t.Fatalf("Decision=%+v, want allowed with one budget", d)
		}
		if rem, ok := d.Remaining(budget.Org); !ok || rem != m(t, "10") {
			t.Errorf("Remaining(org)=%v, %v, want 10 before the hold", rem, ok)
		}
		if u := usage(t, l, acme, budget.Daily); u.Spent != 0 || u.Reserved != m(t, "3") {
			t.Errorf("after Reserve: spent %v reserved %v, want 0 and 3", u.Spent, u.Reserved)
		}
		if err := r.Commit(ctx, m(t, "2.5")); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "2.5") || u.Reserved != 0 {
			t.Errorf("after Commit: spent %v reserved %v, want 2.5 and 0", u.Spent, u.Reserved)
		}
		t.Run("SecondCommitNoop", func(t *testing.T) {
			if err := r.Commit(ctx, m(t, "5")); err != nil {
				t.Fatalf("Commit again: %v", err)
			}
			if err := r.Release(ctx); err != nil {
				t.Fatalf("Release after Commit: %v", err)
			}
			if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "2.5") || u.Reserved != 0 {
				t.Errorf("spent %v reserved %v, want 2.5 and 0", u.Spent, u.Reserved)
			}
		})
		t.Run("Check", func(t *testing.T) {
			d, err := l.Check(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: m(t, "7.5")})
			if err != nil || !d.Allowed {
				t.Errorf("Check(7.5)=%+v, %v, want allowed", d, err)
			}
			d, err = l.Check(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: m(t, "7.500001")})
			if err != nil || d.Allowed || d.DeniedBy != budget.Org {
				t.Errorf("Check(7.500001)=%+v, %v, want denied by org", d, err)
			}
		})
	})
}

func TestDenial(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Monthly, Limit: m(t, "100")})
		mustSet(t, l, budget.Budget{Scope: acmeML, Period: budget.Daily, Limit: m(t, "5"), Soft: m(t, "4")})
		mustSet(t, l, budget.Budget{Scope: keyAlice, Period: budget.Daily, Limit: m(t, "50")})
		first := mustReserve(t, l, allScopes, m(t, "3"))
		if w := first.Decision().Warnings(); len(w) != 0 {
			t.Errorf("Warnings=%v, want none at 3 of soft 4", w)
		}

		before := snapshot(t, db)
		_, err := l.Reserve(ctx, budget.Request{Scopes: allScopes, Estimate: m(t, "3")})
		var ee *budget.ExceededError
		if !errors.Is(err, budget.ErrExceeded) || !errors.As(err, &ee) {
			t.Fatalf("Reserve err=%v, want *ExceededError", err)
		}
		t.Run("DecisionNamesTier", func(t *testing.T) {
			d := ee.Decision
			if d.Allowed || d.DeniedBy != budget.Team || len(d.Budgets) != 3 {
				t.Fatalf("Decision=%+v, want denied by team with 3 budgets", d)
			}
			for tier, want := range map[budget.Tier]string{budget.Org: "97", budget.Team: "2", budget.Principal: "47"} {
				if rem, ok := d.Remaining(tier); !ok || rem != m(t, want) {
					t.Errorf("Remaining(%v)=%v, %v, want %s", tier, rem, ok, want)
				}
			}
			if w := d.Warnings(); len(w) != 1 || w[0].Scope != acmeML {
				t.Errorf("Warnings=%v, want the team's soft threshold", w)
			}
		})
		t.Run("OtherTiersUnchanged", func(t *testing.T) {
			if after := snapshot(t, db); !equalMaps(before, after) {
				t.Errorf("a denied Reserve changed the database:\nbefore %v\nafter  %v", before, after)
			}
			for _, s := range []budget.Scope{acme, keyAlice} {
				p := budget.Daily
				if s == acme {
					p = budget.Monthly
				}
				if u := usage(t, l, s, p); u.Reserved != m(t, "3") || u.Spent != 0 {
					t.Errorf("%v: reserved %v spent %v, want 3 and 0", s, u.Reserved, u.Spent)
				}
			}
		})
		t.Run("FitsAfterRelease", func(t *testing.T) {
			if err := first.Release(ctx); err != nil {
				t.Fatal(err)
			}
			r := mustReserve(t, l, allScopes, m(t, "5"))
			if w := r.Decision().Warnings(); len(w) != 1 {
				t.Errorf("Warnings=%v, want one at 5 of soft 4", w)
			}
		})
	})
}

func TestReleaseRestores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Every(3600e9), Limit: m(t, "4")})
		mustSet(t, l, budget.Budget{Scope: keyAlice, Period: budget.Weekly, Limit: m(t, "10")})
		committed := mustReserve(t, l, allScopes, m(t, "1"))
		if err := committed.Commit(ctx, m(t, "0.75")); err != nil {
			t.Fatal(err)
		}
		type key struct {
			s budget.Scope
			p budget.Period
		}
		keys := []key{{acme, budget.Daily}, {acme, budget.Every(3600e9)}, {keyAlice, budget.Weekly}}
		before := map[key]budget.Spend{}
		for _, k := range keys {
			before[k] = usage(t, l, k.s, k.p)
		}
		r := mustReserve(t, l, allScopes, m(t, "3.25"))
		for _, k := range keys {
			u := usage(t, l, k.s, k.p)
			if u.Reserved != before[k].Reserved+m(t, "3.25") {
				t.Errorf("%v %v: reserved %v during the hold, want %v", k.s, k.p, u.Reserved, before[k].Reserved+m(t, "3.25"))
			}
		}
		if err := r.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Release(ctx); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		for _, k := range keys {
			if u := usage(t, l, k.s, k.p); u != before[k] {
				t.Errorf("%v %v after Release: %+v, want %+v", k.s, k.p, u, before[k])
			}
		}
	})
}

func TestSettleConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "1000")})
		var spent budget.Micros
		for round := range 10 {
			r := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "2"))
			actual := budget.Micros(1_000_000 + round)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := range 8 {
				wg.Go(func() {
					if i%2 == 0 {
						errs <- r.Commit(ctx, actual)
					} else {
						errs <- r.Release(ctx)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			u := usage(t, l, acme, budget.Daily)
			if u.Reserved != 0 || (u.Spent != spent && u.Spent != spent+actual) {
				t.Fatalf("round %d: spent %v reserved %v, want spent %v or %v and nothing reserved", round, u.Spent, u.Reserved, spent, spent+actual)
			}
			spent = u.Spent
		}
	})
}

func TestCommitAboveEstimate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		r := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "1"))
		held := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "2"))
		if err := r.Commit(ctx, m(t, "9")); err != nil {
			t.Fatal(err)
		}
		if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "9") || u.Reserved != m(t, "2") {
			t.Errorf("spent %v reserved %v, want 9 in full and 2", u.Spent, u.Reserved)
		}
		_, err := l.Reserve(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: 1})
		if !errors.Is(err, budget.ErrExceeded) {
			t.Errorf("Reserve over the limit err=%v, want ErrExceeded", err)
		}
		var ee *budget.ExceededError
		if errors.As(err, &ee) {
			if rem, _ := ee.Decision.Remaining(budget.Org); rem != 0 {
				t.Errorf("Remaining=%v, want 0", rem)
			}
		}
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		// 9 spent of 10: one unit fits again.
		mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "1"))
	})
}

func TestNoBudgetAtSomeTiers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		l := mustLedger(t, mustOpen(t, url), nil)
		mustSet(t, l, budget.Budget{Scope: keyAlice, Period: budget.Daily, Limit: m(t, "1")})
		r := mustReserve(t, l, allScopes, m(t, "1"))
		if d := r.Decision(); len(d.Budgets) != 1 || d.Budgets[0].Scope != keyAlice {
			t.Errorf("Decision budgets=%+v, want only the principal's", d.Budgets)
		}
		if _, ok := r.Decision().Remaining(budget.Org); ok {
			t.Errorf("Remaining(org) reported a tier without budget")
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
