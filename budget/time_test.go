package budget_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/persistkit/persist/budget"
)

var t0 = time.Date(2025, 3, 9, 23, 0, 0, 0, time.UTC) // a Sunday, an hour before midnight

func TestPeriodRollover(t *testing.T) {
	for _, tt := range []struct {
		name    string
		period  budget.Period
		advance time.Duration
	}{
		{"Day", budget.Daily, time.Hour},
		{"Week", budget.Weekly, time.Hour}, // Sunday 23:00 to Monday 00:00
		{"Month", budget.Monthly, 22*24*time.Hour + time.Hour},
		{"Window", budget.Every(15 * time.Minute), 15 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, url string) {
				ctx := context.Background()
				clk := newClock(t0)
				l := mustLedger(t, mustOpen(t, url), &budget.Options{Clock: clk.Now})
				mustSet(t, l, budget.Budget{Scope: acme, Period: tt.period, Limit: m(t, "10")})
				r := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "10"))
				if err := r.Commit(ctx, m(t, "10")); err != nil {
					t.Fatal(err)
				}
				if _, err := l.Reserve(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: 1}); !errors.Is(err, budget.ErrExceeded) {
					t.Fatalf("Reserve in the spent period err=%v, want ErrExceeded", err)
				}
				clk.Advance(tt.advance - time.Nanosecond)
				if _, err := l.Reserve(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: 1}); !errors.Is(err, budget.ErrExceeded) {
					t.Fatalf("Reserve 1ns before the period ends err=%v, want ErrExceeded", err)
				}
				clk.Advance(time.Nanosecond)
				r = mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "10"))
				if got := r.Decision().Budgets[0].PeriodStart; !got.Equal(t0.Add(tt.advance)) {
					t.Errorf("PeriodStart=%v, want %v", got, t0.Add(tt.advance))
				}
				old, err := l.Spend(ctx, acme, tt.period, t0)
				if err != nil || old.Spent != m(t, "10") || old.Reserved != 0 {
					t.Errorf("Usage of the previous period=%+v, %v, want 10 spent", old, err)
				}
				if cur := usage(t, l, acme, tt.period); cur.Spent != 0 || cur.Reserved != m(t, "10") {
					t.Errorf("Usage of the new period=%+v, want 10 reserved", cur)
				}
			})
		})
	}
}

func TestLimitChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		org := budget.Scopes{Org: "acme"}
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		if err := mustReserve(t, l, org, m(t, "8")).Commit(ctx, m(t, "8")); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "5")}); !errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("err=%v, want ErrExceeded", err)
		}
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "20"), Soft: m(t, "12")})
		r := mustReserve(t, l, org, m(t, "5"))
		if w := r.Decision().Warnings(); len(w) != 1 {
			t.Errorf("Warnings=%v, want the new soft threshold crossed", w)
		}
		got, err := l.GetBudget(ctx, acme, budget.Daily)
		if err != nil || got.Limit != m(t, "20") || got.Soft != m(t, "12") {
			t.Errorf("GetBudget=%+v, %v, want limit 20 soft 12", got, err)
		}
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "9")})
		d, err := l.Check(ctx, budget.Request{Scopes: org})
		if err != nil || d.Allowed {
			t.Errorf("Check after lowering the limit below the spend=%+v, %v, want denied", d, err)
		}
		t.Run("Delete", func(t *testing.T) {
			if err := l.DeleteBudget(ctx, acme, budget.Daily); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: 1}); !errors.Is(err, budget.ErrNoBudget) {
				t.Errorf("Reserve after DeleteBudget err=%v, want ErrNoBudget", err)
			}
			if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "8") || u.Reserved != m(t, "5") {
				t.Errorf("Usage after DeleteBudget=%+v, want the spend kept", u)
			}
			if err := r.Commit(ctx, m(t, "1")); err != nil {
				t.Errorf("Commit after DeleteBudget: %v", err)
			}
		})
	})
}

func TestListBudgets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		l := mustLedger(t, mustOpen(t, url), nil)
		want := []budget.Budget{
			{Scope: acme, Period: budget.Daily, Limit: m(t, "10")},
			{Scope: acme, Period: budget.Monthly, Limit: m(t, "200"), Soft: m(t, "150")},
			{Scope: keyAlice, Period: budget.Every(time.Hour), Limit: m(t, "1")},
		}
		for _, b := range want {
			mustSet(t, l, b)
		}
		var got []budget.Budget
		for b, err := range l.ListBudgets(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b)
		}
		if len(got) != len(want) {
			t.Fatalf("ListBudgets=%v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("ListBudgets[%d]=%+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func TestExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock(t0.Add(-12 * time.Hour))
		db := mustOpen(t, url)
		l := mustLedger(t, db, &budget.Options{Clock: clk.Now, ReservationTTL: time.Minute})
		org := budget.Scopes{Org: "acme"}
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		crashed := mustReserve(t, l, org, m(t, "8"))
		if exp := crashed.Expires(); exp.Before(clk.Now().Add(time.Minute)) || exp.After(clk.Now().Add(time.Minute+8*time.Second)) {
			t.Errorf("Expires=%v, want a minute to a minute and 8s from now", exp)
		}
		if _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "5")}); !errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("err=%v, want ErrExceeded while the hold lives", err)
		}
		clk.Advance(59 * time.Second)
		if _, err := l.Reserve(ctx, budget.Request{Scopes: org, Estimate: m(t, "5")}); !errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("err=%v, want ErrExceeded before the TTL", err)
		}
		clk.Advance(10 * time.Second)
		if u := usage(t, l, acme, budget.Daily); u.Reserved != 0 {
			t.Errorf("Usage after expiry: reserved %v, want 0", u.Reserved)
		}
		r := mustReserve(t, l, org, m(t, "5"))
		if u := usage(t, l, acme, budget.Daily); u.Reserved != m(t, "5") {
			t.Errorf("reserved %v, want only the new hold", u.Reserved)
		}
		t.Run("LateCommitCharges", func(t *testing.T) {
			if err := crashed.Commit(ctx, m(t, "2")); err != nil {
				t.Fatal(err)
			}
			if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "2") || u.Reserved != m(t, "5") {
				t.Errorf("spent %v reserved %v, want 2 and 5", u.Spent, u.Reserved)
			}
		})
		t.Run("Sweep", func(t *testing.T) {
			stale := mustReserve(t, l, org, m(t, "1"))
			clk.Advance(3 * time.Minute)
			n, err := l.Sweep(ctx)
			if err != nil || n != 2 {
				t.Fatalf("Sweep=%d, %v, want 2 (r and stale)", n, err)
			}
			hs, _ := db.Store("budget_holds")
			if c, err := hs.Count(ctx); err != nil || c != 0 {
				t.Errorf("holds left=%d, %v, want 0", c, err)
			}
			// A commit after its record was swept still charges once.
			if err := stale.Commit(ctx, m(t, "1")); err != nil {
				t.Fatal(err)
			}
			if err := stale.Commit(ctx, m(t, "1")); err != nil {
				t.Fatal(err)
			}
			if err := r.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if u := usage(t, l, acme, budget.Daily); u.Spent != m(t, "3") || u.Reserved != 0 {
				t.Errorf("spent %v reserved %v, want 3 and 0", u.Spent, u.Reserved)
			}
		})
	})
}

func TestRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		u := budget.Usage{
			RequestID: "req-42", Scopes: allScopes, Model: "gpt-4o",
			TokensIn: 1200, TokensOut: 350, Cost: m(t, "0.0123"),
			Time: time.Date(2025, 3, 9, 12, 0, 0, 123456789, time.UTC),
		}
		if err := l.Record(ctx, u); err != nil {
			t.Fatal(err)
		}
		dup := u
		dup.Cost = m(t, "99")
		if err := l.Record(ctx, dup); err != nil {
			t.Fatalf("second Record with the same id: %v", err)
		}
		rs, err := db.Store("llm_requests")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := rs.Get(ctx, "req-42")
		if err != nil {
			t.Fatal(err)
		}
		want := `{"org":"acme","team":"acme/ml","principal":"key_alice","model":"gpt-4o","tokens_in":1200,"tokens_out":350,"cost_micros":12300,"time":"2025-03-09T12:00:00.123456Z"}`
		if !jsonEqual(t, rec.Data, []byte(want)) {
			t.Errorf("stored %s, want %s", rec.Data, want)
		}
		if n, err := rs.Count(ctx); err != nil || n != 1 {
			t.Errorf("Count=%d, %v, want 1", n, err)
		}
	})
}
