package otelpersist_test

import (
	"errors"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestBudget(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		tel := newTelemetry(t)
		db := b.open(t, &persist.Options{Observer: tel.obs})
		ctx := t.Context()
		l, err := budget.New(db, &budget.Options{Observer: tel.obs})
		if err != nil {
			t.Fatal(err)
		}
		org := budget.Scope{Tier: budget.Org, ID: "acme"}
		team := budget.Scope{Tier: budget.Team, ID: "acme/ml"}
		if err := l.SetBudget(ctx, budget.Budget{Scope: org, Period: budget.Daily, Limit: 100}); err != nil {
			t.Fatal(err)
		}
		if err := l.SetBudget(ctx, budget.Budget{Scope: team, Period: budget.Daily, Limit: 10}); err != nil {
			t.Fatal(err)
		}
		scopes := budget.Scopes{Org: "acme", Team: "acme/ml"}
		r1, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 6})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 3})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Reserve(ctx, budget.Request{Scopes: scopes, Estimate: 5}); !errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("Reserve: %v, want ErrExceeded", err)
		}
		if err := r1.Commit(ctx, 4); err != nil {
			t.Fatal(err)
		}

		decisions := map[string]int64{}
		for k, v := range sums(t, tel, "persist.budget.decisions") {
			decisions[k] = v
		}
		want := map[string]int64{"reserve admitted ": 2, "reserve denied team": 1}
		if !int64MapsEqual(decisions, want) {
			t.Errorf("persist.budget.decisions %v, want %v", decisions, want)
		}
		if got := sums(t, tel, "persist.budget.holds")["  "]; got != 1 {
			t.Errorf("persist.budget.holds %d, want 1 (r2)", got)
		}
		if got := sums(t, tel, "persist.budget.spend")["  "]; got != 4 {
			t.Errorf("persist.budget.spend %d, want 4", got)
		}
		if err := r2.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if got := sums(t, tel, "persist.budget.holds")["  "]; got != 0 {
			t.Errorf("persist.budget.holds after Release %d, want 0", got)
		}
		m, ok := metric(t, tel, "persist.budget.batch.size")
		if !ok {
			t.Fatal("no persist.budget.batch.size")
		}
		var n uint64
		var total int64
		for _, p := range m.Data.(metricdata.Histogram[int64]).DataPoints {
			n += p.Count
			total += p.Sum
		}
		if n == 0 || total != 5 { // 3 reserves and 2 settlements
			t.Errorf("batches: %d holding %d operations, want some holding 5", n, total)
		}
	})
}

// sums returns an int64 sum's points by operation, outcome and tier.
func sums(t *testing.T, tel *telemetry, name string) map[string]int64 {
	t.Helper()
	m, ok := metric(t, tel, name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	out := map[string]int64{}
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		a := attrs(p.Attributes.ToSlice())
		out[a["persist.budget.operation"]+" "+a["persist.budget.outcome"]+" "+a["persist.budget.tier"]] += p.Value
	}
	return out
}

func int64MapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
