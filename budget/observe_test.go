package budget_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/persistkit/persist/budget"
)

// events is an Observer that keeps what it is told.
type events struct {
	mu sync.Mutex
	es []budget.Event
}

func (e *events) Observe(_ context.Context, ev budget.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.es = append(e.es, ev)
}

// take returns the events seen since the last take, batches apart.
func (e *events) take() (decisions []budget.Event, batched int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.es {
		if ev.Kind == budget.EventBatch {
			if ev.Size < 1 {
				decisions = append(decisions, ev) // reported as unexpected
			}
			batched += ev.Size
			continue
		}
		decisions = append(decisions, ev)
	}
	e.es = nil
	return decisions, batched
}

func TestObserver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		rec := &events{}
		l := mustLedger(t, mustOpen(t, url), &budget.Options{Observer: rec})
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		mustSet(t, l, budget.Budget{Scope: acmeML, Period: budget.Daily, Limit: m(t, "4")})
		rec.take()

		expect := func(what string, wantBatched int, want ...budget.Event) {
			t.Helper()
			got, batched := rec.take()
			if len(got) != len(want) {
				t.Fatalf("%s: events %+v, want %+v", what, got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s: event %d %+v, want %+v", what, i, got[i], want[i])
				}
			}
			if batched != wantBatched {
				t.Errorf("%s: %d operations in batches, want %d", what, batched, wantBatched)
			}
		}
		r := mustReserve(t, l, budget.Scopes{Org: "acme", Team: "acme/ml"}, m(t, "3"))
		expect("reserve", 1, budget.Event{Kind: budget.EventAdmitted, Op: "reserve", Amount: m(t, "3")})
		_, err := l.Reserve(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme", Team: "acme/ml"}, Estimate: m(t, "2")})
		if !errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("Reserve: %v, want ErrExceeded", err)
		}
		expect("denied", 1, budget.Event{Kind: budget.EventDenied, Op: "reserve", Tier: budget.Team, Amount: m(t, "2")})
		if err := r.Commit(ctx, m(t, "2.5")); err != nil {
			t.Fatal(err)
		}
		expect("commit", 1, budget.Event{Kind: budget.EventCommitted, Op: "commit", Amount: m(t, "2.5"), Held: true})
		if err := r.Commit(ctx, m(t, "1")); err != nil {
			t.Fatal(err)
		}
		expect("second commit", 0)
		r2 := mustReserve(t, l, budget.Scopes{Org: "acme", Team: "acme/ml"}, m(t, "1"))
		if err := r2.Release(ctx); err != nil {
			t.Fatal(err)
		}
		expect("release", 2, budget.Event{Kind: budget.EventAdmitted, Op: "reserve", Amount: m(t, "1")},
			budget.Event{Kind: budget.EventReleased, Op: "release", Held: true})
		if _, err := l.Check(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme", Team: "acme/ml"}, Estimate: 1}); err != nil {
			t.Fatal(err)
		}
		expect("check", 0)

		// Concurrent operations: every one is in exactly one batch.
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				r, err := l.Reserve(ctx, budget.Request{Scopes: budget.Scopes{Org: "acme"}, Estimate: 1})
				if err == nil {
					err = r.Commit(ctx, 1)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, batched := rec.take()
		if batched != 32 || len(got) != 32 {
			t.Errorf("16 reserve+commit pairs: %d events, %d operations in batches; want 32 and 32", len(got), batched)
		}
	})
}
