package budget

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/persistkit/persist"
)

// Period is the span over which a budget's spend accumulates before it
// starts again from zero: a calendar day, ISO week (starting Monday) or
// month in UTC, or a fixed-length window anchored at the Unix epoch. Periods
// roll over by themselves: spend is counted per period start, so a new
// period simply begins with a new, empty counter.
//
// The zero Period is invalid; use [Daily], [Weekly], [Monthly] or [Every].
type Period struct {
	unit   unit
	window time.Duration
}

type unit uint8

const (
	unitNone unit = iota
	unitDay
	unitWeek
	unitMonth
	unitWindow
)

// The calendar periods, in UTC.
var (
	// Daily runs from midnight to midnight UTC.
	Daily = Period{unit: unitDay}
	// Weekly runs from Monday 00:00 UTC for seven days (ISO 8601 weeks).
	Weekly = Period{unit: unitWeek}
	// Monthly runs from the first of the month 00:00 UTC to the first of the next.
	Monthly = Period{unit: unitMonth}
)

// maxWindow bounds fixed windows so that period arithmetic cannot overflow.
const maxWindow = 10 * 366 * 24 * time.Hour

// Every returns a fixed window of length d. Windows are aligned to the Unix
// epoch: Every(time.Hour) runs from one whole UTC hour to the next. d must
// be a whole number of seconds between one second and ten years; any other
// value gives a Period that every method taking it rejects with
// [persist.ErrInvalid].
func Every(d time.Duration) Period { return Period{unit: unitWindow, window: d} }

// ParsePeriod parses the form [Period.String] returns: "day", "week",
// "month", or a Go duration such as "1h" or "15m" for a fixed window.
func ParsePeriod(s string) (Period, error) {
	var p Period
	switch s {
	case "day":
		p = Daily
	case "week":
		p = Weekly
	case "month":
		p = Monthly
	default:
		d, err := time.ParseDuration(s)
		if err != nil {
			return Period{}, fmt.Errorf("budget: period %s: %w: want day, week, month or a duration", strconv.Quote(truncate(s)), persist.ErrInvalid)
		}
		p = Every(d)
	}
	if err := p.validate(); err != nil {
		return Period{}, err
	}
	return p, nil
}

// String returns "day", "week", "month", or the window's duration ("1h0m0s").
func (p Period) String() string {
	switch p.unit {
	case unitDay:
		return "day"
	case unitWeek:
		return "week"
	case unitMonth:
		return "month"
	case unitWindow:
		return p.window.String()
	}
	return "invalid"
}

// MarshalText encodes the period as [Period.String] does.
func (p Period) MarshalText() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes what [Period.MarshalText] wrote.
func (p *Period) UnmarshalText(b []byte) error {
	q, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Start returns the start of the period that contains t, in UTC.
func (p Period) Start(t time.Time) time.Time {
	t = t.UTC()
	switch p.unit {
	case unitDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case unitWeek:
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		back := (int(d.Weekday()) + 6) % 7 // days since Monday
		return d.AddDate(0, 0, -back)
	case unitMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case unitWindow:
		secs := int64(p.window / time.Second)
		if secs <= 0 {
			return t
		}
		u := t.Unix() // floor, also before 1970
		s := u / secs * secs
		if s > u {
			s -= secs
		}
		return time.Unix(s, 0).UTC()
	}
	return t
}

// End returns the end of the period that contains t, which is the start of
// the next one.
func (p Period) End(t time.Time) time.Time {
	s := p.Start(t)
	switch p.unit {
	case unitDay:
		return s.AddDate(0, 0, 1)
	case unitWeek:
		return s.AddDate(0, 0, 7)
	case unitMonth:
		return s.AddDate(0, 1, 0)
	case unitWindow:
		return s.Add(p.window)
	}
	return s
}

// key is the period's spelling inside counter ids: short, and without '/'.
func (p Period) key() string {
	if p.unit == unitWindow {
		return strconv.FormatInt(int64(p.window/time.Second), 10) + "s"
	}
	return p.String()
}

func parsePeriodKey(s string) (Period, error) {
	if n, ok := strings.CutSuffix(s, "s"); ok && n != "" && n[0] >= '0' && n[0] <= '9' {
		secs, err := strconv.ParseInt(n, 10, 64)
		if err != nil || secs <= 0 || secs > int64(maxWindow/time.Second) {
			return Period{}, fmt.Errorf("budget: stored period %q: %w", s, persist.ErrInvalid)
		}
		return Every(time.Duration(secs) * time.Second), nil
	}
	return ParsePeriod(s)
}

func (p Period) validate() error {
	switch p.unit {
	case unitDay, unitWeek, unitMonth:
		return nil
	case unitWindow:
		if p.window < time.Second || p.window > maxWindow || p.window%time.Second != 0 {
			return fmt.Errorf("budget: period window %v: %w: must be whole seconds from 1s to 10 years", p.window, persist.ErrInvalid)
		}
		return nil
	}
	return fmt.Errorf("budget: %w: zero period; use Daily, Weekly, Monthly or Every", persist.ErrInvalid)
}
