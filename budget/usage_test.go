package budget_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

// recorded is one request as the model of TestDailyUsage sees it.
type recorded struct {
	scopes  budget.Scopes
	at      time.Time // as Record stores it: whole microseconds
	in, out int64
	cost    budget.Micros
}

// idAt returns the id s names at tier t, "" if none.
func idAt(s budget.Scopes, t budget.Tier) string {
	switch t {
	case budget.Org:
		return s.Org
	case budget.Team:
		return s.Team
	}
	return s.Principal
}

// sumByDay is DailyUsage computed plainly, from what was recorded.
func sumByDay(recs []recorded, s budget.Scope, from, to time.Time) []budget.DayUsage {
	byDay := map[time.Time]*budget.DayUsage{}
	for _, r := range recs {
		if idAt(r.scopes, s.Tier) != s.ID || r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		u := r.at.UTC()
		day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		d := byDay[day]
		if d == nil {
			d = &budget.DayUsage{Day: day}
			byDay[day] = d
		}
		d.Requests++
		d.TokensIn += r.in
		d.TokensOut += r.out
		d.Cost += r.cost
	}
	var out []budget.DayUsage
	for _, d := range byDay {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b budget.DayUsage) int { return a.Day.Compare(b.Day) })
	return out
}

// describeDays formats days one a line, for comparison and messages.
func describeDays(days []budget.DayUsage) string {
	var b strings.Builder
	for _, d := range days {
		fmt.Fprintf(&b, "%s %s n=%d in=%d out=%d cost=%s\n", d.Day.Format(time.RFC3339Nano), d.Day.Location(),
			d.Requests, d.TokensIn, d.TokensOut, d.Cost)
	}
	return b.String()
}

// mustRecord records r through l.
func mustRecord(tb testing.TB, l *budget.Ledger, id string, r recorded, at time.Time) {
	tb.Helper()
	err := l.Record(context.Background(), budget.Usage{
		RequestID: id, Scopes: r.scopes, Model: "m", TokensIn: r.in, TokensOut: r.out, Cost: r.cost, Time: at,
	})
	if err != nil {
		tb.Fatalf("Record(%s): %v", id, err)
	}
}

// checkUsage compares DailyUsage with sumByDay over recs.
func checkUsage(tb testing.TB, l *budget.Ledger, recs []recorded, s budget.Scope, from, to time.Time) []budget.DayUsage {
	tb.Helper()
	got, err := l.DailyUsage(context.Background(), s, from, to)
	if err != nil {
		tb.Fatalf("DailyUsage(%v, %s, %s): %v", s, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), err)
	}
	want := sumByDay(recs, s, from, to)
	if g, w := describeDays(got), describeDays(want); g != w {
		tb.Errorf("DailyUsage(%v, %s, %s)\n got:\n%s want:\n%s", s, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), g, w)
	}
	return got
}

var usageBase = time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC) // midnight starting the first day of the tests

// edges are instants where an exact cut matters: around midnights, and
// within one second whose stored texts do not sort in time order ("00Z"
// after "00.5Z", "00.1Z" after "00.12Z").
func edges() []time.Time {
	var out []time.Time
	for d := range 6 {
		for _, base := range []time.Time{usageBase.AddDate(0, 0, d), usageBase.AddDate(0, 0, d).Add(12 * time.Hour)} {
			for _, off := range []time.Duration{
				0, -time.Nanosecond, time.Nanosecond, -time.Microsecond, time.Microsecond, -time.Second,
				100 * time.Millisecond, 120 * time.Millisecond, 500 * time.Millisecond, time.Second - time.Nanosecond,
			} {
				out = append(out, base.Add(off))
			}
		}
	}
	return out
}

var usageZones = []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("PST", -8*3600)}

// TestDailyUsage compares DailyUsage with a plain sum of what was recorded,
// over random scopes and ranges across several days.
func TestDailyUsage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rnd := rand.New(rand.NewPCG(seed, seed))
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)

		orgs := []string{"acme", "globex"}
		teams := []string{"acme/ml", "acme/web", "globex/ml"}
		principals := []string{"key_a", "key_b", "key_c", "key_d"}
		pick := func(ids []string) string {
			if rnd.IntN(3) == 0 {
				return ""
			}
			return ids[rnd.IntN(len(ids))]
		}
		edge := edges()
		instant := func() time.Time {
			if rnd.IntN(2) == 0 {
				return edge[rnd.IntN(len(edge))]
			}
			return usageBase.Add(time.Duration(rnd.Int64N(int64(5 * 24 * time.Hour))))
		}

		var recs []recorded
		for i := range 300 {
			s := budget.Scopes{Org: pick(orgs), Team: pick(teams), Principal: pick(principals)}
			if s == (budget.Scopes{}) {
				s.Org = orgs[0]
			}
			at := instant()
			r := recorded{scopes: s, at: at.Truncate(time.Microsecond), in: rnd.Int64N(5000), out: rnd.Int64N(5000), cost: budget.Micros(rnd.Int64N(2_000_000))}
			mustRecord(t, l, fmt.Sprintf("req-%d", i), r, at.In(usageZones[rnd.IntN(len(usageZones))]))
			recs = append(recs, r)
		}

		t.Run("Random", func(t *testing.T) {
			ids := map[budget.Tier][]string{budget.Org: orgs, budget.Team: teams, budget.Principal: principals}
			for range 150 {
				tier := budget.Tier(1 + rnd.IntN(3))
				id := "nobody"
				if rnd.IntN(8) > 0 {
					id = ids[tier][rnd.IntN(len(ids[tier]))]
				}
				from, to := instant(), instant()
				if rnd.IntN(10) == 0 {
					to = from
				}
				if to.Before(from) {
					from, to = to, from
				}
				checkUsage(t, l, recs, budget.Scope{Tier: tier, ID: id}, from.In(usageZones[rnd.IntN(len(usageZones))]), to)
			}
			for _, tier := range []budget.Tier{budget.Org, budget.Team, budget.Principal} {
				for _, id := range ids[tier] {
					checkUsage(t, l, recs, budget.Scope{Tier: tier, ID: id}, usageBase.Add(-time.Hour), usageBase.AddDate(0, 0, 7))
				}
			}
		})

		t.Run("Boundaries", func(t *testing.T) {
			midnight := usageBase.AddDate(0, 0, 1)
			noon := usageBase.Add(12 * time.Hour)
			edge := budget.Scopes{Principal: "edge"}
			var mine []recorded
			for i, at := range []time.Time{
				midnight.Add(-time.Nanosecond), // 23:59:59.999999999, stored as .999999
				midnight,
				noon, noon.Add(100 * time.Millisecond), noon.Add(120 * time.Millisecond), noon.Add(500 * time.Millisecond),
			} {
				r := recorded{scopes: edge, at: at.Truncate(time.Microsecond), in: 1, out: 2, cost: budget.Micros(1) << i}
				mustRecord(t, l, fmt.Sprintf("edge-%d", i), r, at)
				mine = append(mine, r)
			}
			scope := budget.Scope{Tier: budget.Principal, ID: "edge"}
			for _, tt := range []struct {
				name     string
				from, to time.Time
				want     budget.Micros // the sum of 1<<i over the requests in range
			}{
				{"MidnightAtFromIsIn", midnight, midnight.Add(time.Hour), 1 << 1},
				{"MidnightAtToIsOut", midnight.Add(-time.Hour), midnight, 1 << 0},
				{"LastMicrosecondAtFromIsIn", midnight.Add(-time.Microsecond), midnight, 1 << 0},
				{"LastMicrosecondAtToIsOut", midnight.Add(-time.Hour), midnight.Add(-time.Microsecond), 0},
				{"LastMicrosecondBeforeFrom", midnight.Add(-time.Microsecond + time.Nanosecond), midnight, 0},
				{"AcrossMidnight", midnight.Add(-time.Microsecond), midnight.Add(time.Microsecond), 1<<0 | 1<<1},
				{"WholeSecondAfterFraction", noon.Add(100 * time.Millisecond), noon.Add(500 * time.Millisecond), 1<<3 | 1<<4},
				{"WholeSecondAtFrom", noon, noon.Add(120 * time.Millisecond), 1<<2 | 1<<3},
				{"ShorterFractionAtTo", noon.Add(120 * time.Millisecond), noon.Add(time.Second), 1<<4 | 1<<5},
				{"LongerFractionAtTo", noon.Add(time.Nanosecond), noon.Add(120 * time.Millisecond), 1 << 3},
				{"Empty", noon, noon, 0},
			} {
				t.Run(tt.name, func(t *testing.T) {
					days := checkUsage(t, l, mine, scope, tt.from, tt.to)
					var got budget.Micros
					for _, d := range days {
						got += d.Cost
					}
					if got != tt.want {
						t.Errorf("requests in range (as cost bits) %b, want %b", got, tt.want)
					}
				})
			}
		})
	})
}

// TestDailyUsageIndexed checks that each tier's query reads through the
// index DailyUsage declares, on a table of many scopes and days, so that
// the planner weighs the index as it would in use.
func TestDailyUsageIndexed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		const n, workers = 4000, 8
		mods := map[budget.Tier]int{budget.Org: 40, budget.Team: 120, budget.Principal: 400}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					err := l.Record(ctx, budget.Usage{
						RequestID: fmt.Sprintf("req-%d", i),
						Scopes: budget.Scopes{
							Org:       fmt.Sprintf("org_%d", i%mods[budget.Org]),
							Team:      fmt.Sprintf("team_%d", i%mods[budget.Team]),
							Principal: fmt.Sprintf("key_%d", i%mods[budget.Principal]),
						},
						Model: "m", TokensIn: 10, TokensOut: 20, Cost: 30,
						Time: usageBase.Add(time.Duration(i) * 30 * 24 * time.Hour / n),
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Record: %v", err)
		}
		rs, err := db.Store("llm_requests")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []budget.Scope{{Tier: budget.Org, ID: "org_7"}, {Tier: budget.Team, ID: "team_7"}, {Tier: budget.Principal, ID: "key_7"}} {
			from, to := usageBase.AddDate(0, 0, 3).Add(300*time.Millisecond), usageBase.AddDate(0, 0, 5)
			days, err := l.DailyUsage(ctx, s, from, to)
			if err != nil {
				t.Fatalf("DailyUsage(%v): %v", s, err)
			}
			var got, want int64
			for _, d := range days {
				got += d.Requests
			}
			for i := range n {
				at := usageBase.Add(time.Duration(i) * 30 * 24 * time.Hour / n).Truncate(time.Microsecond)
				if fmt.Sprintf("_%d", i%mods[s.Tier]) == s.ID[strings.Index(s.ID, "_"):] && !at.Before(from) && at.Before(to) {
					want++
				}
			}
			if got != want || want == 0 {
				t.Errorf("DailyUsage(%v) counted %d requests, want %d (not 0)", s, got, want)
			}
			p, err := persist.Explain(ctx, rs, budget.UsageQuery(s, from, to))
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if !p.Indexed || !strings.Contains(p.Index, "budget_usage_"+s.Tier.String()) {
				t.Errorf("Explain of the %s query = Indexed %v, Index %q; want indexed by budget_usage_%s; plan:\n%s", s.Tier, p.Indexed, p.Index, s.Tier, p.Detail)
			}
		}
	})
}

func TestDailyUsageBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		db := mustOpen(t, url)
		l := mustLedger(t, db, nil)
		from := usageBase
		for _, tt := range []struct {
			name     string
			scope    budget.Scope
			from, to time.Time
		}{
			{"NoScope", budget.Scope{}, from, from.Add(time.Hour)},
			{"NoID", budget.Scope{Tier: budget.Team}, from, from.Add(time.Hour)},
			{"BadTier", budget.Scope{Tier: 7, ID: "acme"}, from, from.Add(time.Hour)},
			{"BadID", budget.Scope{Tier: budget.Org, ID: "ac\x00me"}, from, from.Add(time.Hour)},
			{"FromAfterTo", acme, from, from.Add(-time.Nanosecond)},
			{"ZeroFrom", acme, time.Time{}, from},
			{"ZeroTo", acme, from, time.Time{}},
			{"TooLong", acme, from, from.Add(budget.MaxUsageRange + time.Nanosecond)},
			{"AfterYear9999", acme, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := l.DailyUsage(context.Background(), tt.scope, tt.from, tt.to); !errors.Is(err, persist.ErrInvalid) {
					t.Errorf("err=%v, want ErrInvalid", err)
				}
			})
		}
		t.Run("LongestRange", func(t *testing.T) {
			if _, err := l.DailyUsage(context.Background(), acme, from, from.Add(budget.MaxUsageRange)); err != nil {
				t.Errorf("err=%v, want nil", err)
			}
		})
		// On a closed DB any read fails with ErrClosed: ErrInvalid shows
		// that bad input is refused before anything is read.
		t.Run("ReadsNothing", func(t *testing.T) {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.DailyUsage(context.Background(), acme, from, from.Add(-time.Second)); !errors.Is(err, persist.ErrInvalid) || errors.Is(err, persist.ErrClosed) {
				t.Errorf("err=%v, want ErrInvalid alone", err)
			}
			if _, err := l.DailyUsage(context.Background(), acme, from, from.Add(time.Second)); !errors.Is(err, persist.ErrClosed) {
				t.Errorf("good input on a closed DB: err=%v, want ErrClosed", err)
			}
		})
	})
}
