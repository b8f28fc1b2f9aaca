package budget_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		mustSet(t, l, budget.Budget{Scope: acme, Period: budget.Daily, Limit: m(t, "10")})
		r := mustReserve(t, l, budget.Scopes{Org: "acme"}, m(t, "1"))
		org := budget.Scopes{Org: "acme"}
		reserve := func(s budget.Scopes, est budget.Micros) func() error {
			return func() error { _, err := l.Reserve(ctx, budget.Request{Scopes: s, Estimate: est}); return err }
		}
		check := func(s budget.Scopes, est budget.Micros) func() error {
			return func() error { _, err := l.Check(ctx, budget.Request{Scopes: s, Estimate: est}); return err }
		}
		set := func(b budget.Budget) func() error { return func() error { return l.SetBudget(ctx, b) } }
		record := func(u budget.Usage) func() error { return func() error { return l.Record(ctx, u) } }
		usage := func(s budget.Scope, p budget.Period) func() error {
			return func() error { _, err := l.Spend(ctx, s, p, time.Time{}); return err }
		}
		okUsage := budget.Usage{RequestID: "req-1", Scopes: org, Model: "gpt", Cost: 1}
		with := func(f func(u *budget.Usage)) budget.Usage { u := okUsage; f(&u); return u }

		for _, tt := range []struct {
			name string
			call func() error
			want error
		}{
			{"ReserveZeroEstimate", reserve(org, 0), persist.ErrInvalid},
			{"ReserveNegativeEstimate", reserve(org, -1), persist.ErrInvalid},
			{"ReserveNoScopes", reserve(budget.Scopes{}, 1), persist.ErrInvalid},
			{"ReserveControlCharInScope", reserve(budget.Scopes{Org: "ac\nme"}, 1), persist.ErrInvalid},
			{"ReserveLongScope", reserve(budget.Scopes{Team: strings.Repeat("t", 257)}, 1), persist.ErrInvalid},
			{"ReserveInvalidUTF8Scope", reserve(budget.Scopes{Principal: "\xff"}, 1), persist.ErrInvalid},
			{"ReserveNoBudget", reserve(budget.Scopes{Org: "nobody", Principal: "nobody"}, 1), budget.ErrNoBudget},
			{"ReserveNoBudgetIsInvalid", reserve(budget.Scopes{Team: "nobody"}, 1), persist.ErrInvalid},
			{"CheckNegativeEstimate", check(org, -1), persist.ErrInvalid},
			{"CheckNoScopes", check(budget.Scopes{}, 1), persist.ErrInvalid},
			{"CheckNoBudget", check(budget.Scopes{Org: "nobody"}, 1), budget.ErrNoBudget},
			{"CommitNegative", func() error { return r.Commit(ctx, -1) }, persist.ErrInvalid},
			{"SetNegativeLimit", set(budget.Budget{Scope: acme, Period: budget.Daily, Limit: -1}), persist.ErrInvalid},
			{"SetSoftAboveLimit", set(budget.Budget{Scope: acme, Period: budget.Daily, Limit: 5, Soft: 6}), persist.ErrInvalid},
			{"SetNegativeSoft", set(budget.Budget{Scope: acme, Period: budget.Daily, Limit: 5, Soft: -1}), persist.ErrInvalid},
			{"SetZeroPeriod", set(budget.Budget{Scope: acme, Limit: 5}), persist.ErrInvalid},
			{"SetZeroWindow", set(budget.Budget{Scope: acme, Period: budget.Every(0), Limit: 5}), persist.ErrInvalid},
			{"SetSubSecondWindow", set(budget.Budget{Scope: acme, Period: budget.Every(1500 * time.Millisecond), Limit: 5}), persist.ErrInvalid},
			{"SetBadTier", set(budget.Budget{Scope: budget.Scope{Tier: 9, ID: "x"}, Period: budget.Daily, Limit: 5}), persist.ErrInvalid},
			{"SetEmptyScope", set(budget.Budget{Scope: budget.Scope{Tier: budget.Org}, Period: budget.Daily, Limit: 5}), persist.ErrInvalid},
			{"GetMissing", func() error { _, err := l.GetBudget(ctx, acme, budget.Weekly); return err }, persist.ErrNotFound},
			{"GetMissingScope", func() error { _, err := l.GetBudget(ctx, keyAlice, budget.Daily); return err }, persist.ErrNotFound},
			{"DeleteMissing", func() error { return l.DeleteBudget(ctx, acme, budget.Weekly) }, persist.ErrNotFound},
			{"DeleteMissingScope", func() error { return l.DeleteBudget(ctx, keyAlice, budget.Daily) }, persist.ErrNotFound},
			{"DeleteZeroPeriod", func() error { return l.DeleteBudget(ctx, acme, budget.Period{}) }, persist.ErrInvalid},
			{"UsageZeroPeriod", usage(acme, budget.Period{}), persist.ErrInvalid},
			{"UsageBadScope", usage(budget.Scope{Tier: budget.Org}, budget.Daily), persist.ErrInvalid},
			{"RecordNoID", record(with(func(u *budget.Usage) { u.RequestID = "" })), persist.ErrInvalid},
			{"RecordNoScopes", record(with(func(u *budget.Usage) { u.Scopes = budget.Scopes{} })), persist.ErrInvalid},
			{"RecordNegativeCost", record(with(func(u *budget.Usage) { u.Cost = -1 })), persist.ErrInvalid},
			{"RecordNegativeTokens", record(with(func(u *budget.Usage) { u.TokensOut = -1 })), persist.ErrInvalid},
			{"RecordNULInModel", record(with(func(u *budget.Usage) { u.Model = "a\x00b" })), persist.ErrInvalid},
			{"RecordLongModel", record(with(func(u *budget.Usage) { u.Model = strings.Repeat("m", 257) })), persist.ErrInvalid},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, db)
				if err := tt.call(); !errors.Is(err, tt.want) {
					t.Fatalf("err=%v, want %v", err, tt.want)
				}
				if after := snapshot(t, db); !equalMaps(before, after) {
					t.Errorf("state changed:\nbefore %v\nafter  %v", before, after)
				}
			})
		}

		t.Run("CommitOverflow", func(t *testing.T) {
			s := budget.Scopes{Principal: "big"}
			mustSet(t, l, budget.Budget{Scope: budget.Scope{Tier: budget.Principal, ID: "big"}, Period: budget.Daily, Limit: math.MaxInt64})
			a := mustReserve(t, l, s, 1)
			b := mustReserve(t, l, s, 1)
			if err := a.Commit(ctx, math.MaxInt64); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, db)
			if err := b.Commit(ctx, 1); !errors.Is(err, budget.ErrOverflow) || !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("Commit overflowing the spend err=%v, want ErrOverflow", err)
			}
			if after := snapshot(t, db); !equalMaps(before, after) {
				t.Errorf("state changed:\nbefore %v\nafter  %v", before, after)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatalf("Release after a failed Commit: %v", err)
			}
		})
	})
}

func TestNewOptions(t *testing.T) {
	db := mustOpen(t, sqliteURL(t))
	for _, tt := range []struct {
		name string
		opts budget.Options
	}{
		{"NegativeTTL", budget.Options{ReservationTTL: -time.Second}},
		{"BadPrefix", budget.Options{Prefix: "Budget-"}},
		{"LongPrefix", budget.Options{Prefix: strings.Repeat("p", 60)}},
		{"BadRequestsTable", budget.Options{RequestsTable: "pg_requests"}},
		{"RequestsTableIsOwnTable", budget.Options{RequestsTable: "budget_holds"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := budget.New(db, &tt.opts); !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("New err=%v, want ErrInvalid", err)
			}
		})
	}
	if _, err := budget.New(nil, nil); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("New(nil) err=%v, want ErrInvalid", err)
	}
}
