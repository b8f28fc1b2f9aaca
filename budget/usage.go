package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/persistkit/persist"
)

// DayUsage is what one scope's recorded requests add up to on one UTC
// calendar day, as [Ledger.DailyUsage] reports it.
type DayUsage struct {
	// Day is the midnight, in UTC, that starts the day.
	Day       time.Time `json:"day"`
	Requests  int64     `json:"requests"`
	TokensIn  int64     `json:"tokens_in"`
	TokensOut int64     `json:"tokens_out"`
	Cost      Micros    `json:"cost_micros"`
}

// MaxUsageRange is the longest range [Ledger.DailyUsage] accepts: any
// calendar year fits, and a report holds at most 367 days.
const MaxUsageRange = 366 * 24 * time.Hour

// The instants a usage range may name: the stored times are RFC 3339 with a
// four-digit year, and the query's bounds (see usageQuery) must be too.
var (
	minUsageTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxUsageTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// DailyUsage sums the requests [Ledger.Record] wrote for scope whose time
// is in [from, to), per UTC calendar day: the number of requests, their
// tokens and their cost. Days without a request are left out; the rest
// come in order. A day that from or to cuts counts only its part in the
// range. A request counts for scope when Record named scope at its tier,
// whatever other tiers it named. Every request in the range is read once,
// in time order, and memory grows with the days reported, not with the
// requests.
//
// The first call for each tier declares an index on the requests table
// (see [persist.EnsureIndex]), which serves this query from then on; on a
// large table that first call waits while the index is built. A store
// that cannot declare one answers the same, by scanning.
//
// Bad input matches [persist.ErrInvalid] and reads nothing: an invalid
// scope, a zero from or to, from after to, a range longer than
// [MaxUsageRange] or outside the years 1 to 9999. A sum that does not fit
// in an int64 matches [ErrOverflow]. An unreachable database matches
// [ErrUnavailable].
func (l *Ledger) DailyUsage(ctx context.Context, scope Scope, from, to time.Time) ([]DayUsage, error) {
	const op = "daily usage"
	if err := scope.validate(); err != nil {
		return nil, err
	}
	if from.IsZero() || to.IsZero() {
		return nil, invalid(op, "from and to must both be set")
	}
	if from.After(to) {
		return nil, invalid(op, "from %s is after to %s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	if from.Before(minUsageTime) || to.After(maxUsageTime) {
		return nil, invalid(op, "range is outside the years 1 to 9999")
	}
	if to.Sub(from) > MaxUsageRange {
		return nil, invalid(op, "range of %v is longer than %v", to.Sub(from), MaxUsageRange)
	}
	rs, err := l.db.Store(l.cfg.requests)
	if err != nil {
		return nil, wrap(op, err)
	}
	if err := l.usageIx.ensure(ctx, rs, scope.Tier); err != nil {
		return nil, wrap(op, err)
	}
	var (
		days []DayUsage
		day  *DayUsage
	)
	for rec, err := range rs.Find(ctx, usageQuery(scope, from, to)) {
		if err != nil {
			return nil, wrap(op, err)
		}
		var row struct {
			TokensIn  int64     `json:"tokens_in"`
			TokensOut int64     `json:"tokens_out"`
			Cost      Micros    `json:"cost_micros"`
			Time      time.Time `json:"time"`
		}
		if err := json.Unmarshal(rec.Data, &row); err != nil {
			return nil, fmt.Errorf("budget: %s: request %s: %v", op, rec.ID, err)
		}
		// The query widens the range to whole seconds; this is the exact cut.
		if row.Time.Before(from) || !row.Time.Before(to) {
			continue
		}
		t := row.Time.UTC()
		start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		// Rows come in order of their second, and a day starts on a
		// second, so each day's rows are contiguous.
		if day == nil || !day.Day.Equal(start) {
			days = append(days, DayUsage{Day: start})
			day = &days[len(days)-1]
		}
		if day.Cost, err = day.Cost.Add(row.Cost); err != nil {
			return nil, fmt.Errorf("budget: %s: cost of %s: %w", op, start.Format(time.DateOnly), err)
		}
		if day.TokensIn, err = addTokens(day.TokensIn, row.TokensIn); err != nil {
			return nil, fmt.Errorf("budget: %s: tokens in of %s: %w", op, start.Format(time.DateOnly), err)
		}
		if day.TokensOut, err = addTokens(day.TokensOut, row.TokensOut); err != nil {
			return nil, fmt.Errorf("budget: %s: tokens out of %s: %w", op, start.Format(time.DateOnly), err)
		}
		day.Requests++
	}
	return days, nil
}

// addTokens adds token counts, which Record keeps non-negative.
func addTokens(a, b int64) (int64, error) {
	if b > math.MaxInt64-a {
		return 0, ErrOverflow
	}
	return a + b, nil
}

// usageQuery is the query DailyUsage runs: the requests of scope in the
// whole seconds that [from, to) touches, in time order.
//
// Record stores the time as encoding/json writes a time.Time in UTC
// (RFC 3339, "Z", microseconds at most), but that format drops trailing
// zeros of the fraction, and the whole fraction when it is zero, so byte
// order (a query's string order) is not time order within one second:
// "12:00:00.5Z" < "12:00:00Z" since '.' < 'Z', and "12:00:00.12Z" <
// "12:00:00.1Z". Up to the seconds the text has a fixed width, and there
// byte order is time order. So the bounds are the 19-byte texts of whole
// seconds, which every stored time of that second sorts after: from's
// second, inclusive, and the first second at or after to, exclusive.
// DailyUsage then cuts exactly, on the parsed times; at most the rows of
// two seconds are read in vain. The same holds for rows of any zone only if
// every writer stores UTC, which Record does.
func usageQuery(scope Scope, from, to time.Time) persist.Query {
	const layout = "2006-01-02T15:04:05"
	lo := from.UTC().Truncate(time.Second)
	hi := to.UTC().Truncate(time.Second)
	if hi.Before(to) {
		hi = hi.Add(time.Second)
	}
	return persist.Where(scope.Tier.String(), "==", scope.ID).
		Where("time", ">=", lo.Format(layout)).
		Where("time", "<", hi.Format(layout)).
		OrderBy("time", persist.Asc)
}

// usageIndex is the index that serves usageQuery for one tier.
func usageIndex(t Tier) persist.Index {
	return persist.Index{
		Name:   "budget_usage_" + t.String(),
		Fields: []persist.Sort{{Path: t.String()}, {Path: "time"}},
	}
}

// usageIndexes declares the requests table's indexes, once per tier and
// Ledger, when DailyUsage first needs them. A failed declaration is tried
// again by the next call.
type usageIndexes struct {
	done [Principal + 1]atomic.Bool
	// sem admits one declaration at a time, so callers that arrive during
	// a long build wait for it instead of starting their own, and can
	// still give up with their context.
	sem chan struct{}
}

func (u *usageIndexes) ensure(ctx context.Context, s persist.Store, t Tier) error {
	if u.done[t].Load() {
		return nil
	}
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.sem }()
	if u.done[t].Load() {
		return nil
	}
	if err := persist.EnsureIndex(ctx, s, usageIndex(t)); err != nil {
		return err
	}
	u.done[t].Store(true)
	return nil
}
