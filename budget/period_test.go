package budget_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

func TestPeriodStartEnd(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		name       string
		p          budget.Period
		t          string
		start, end string
	}{
		{"Day", budget.Daily, "2025-03-09T23:59:59.999Z", "2025-03-09T00:00:00Z", "2025-03-10T00:00:00Z"},
		{"DayInOtherZone", budget.Daily, "2025-03-10T01:30:00+02:00", "2025-03-09T00:00:00Z", "2025-03-10T00:00:00Z"},
		{"WeekSunday", budget.Weekly, "2025-03-09T12:00:00Z", "2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"},
		{"WeekMonday", budget.Weekly, "2025-03-10T00:00:00Z", "2025-03-10T00:00:00Z", "2025-03-17T00:00:00Z"},
		{"WeekAcrossYear", budget.Weekly, "2025-01-01T08:00:00Z", "2024-12-30T00:00:00Z", "2025-01-06T00:00:00Z"},
		{"MonthFebLeap", budget.Monthly, "2024-02-29T23:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"MonthDecember", budget.Monthly, "2024-12-31T23:59:59Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"},
		{"WindowHour", budget.Every(time.Hour), "2025-03-09T10:59:59Z", "2025-03-09T10:00:00Z", "2025-03-09T11:00:00Z"},
		{"Window7s", budget.Every(7 * time.Second), "1970-01-01T00:00:15Z", "1970-01-01T00:00:14Z", "1970-01-01T00:00:21Z"},
		{"WindowBeforeEpoch", budget.Every(7 * time.Second), "1969-12-31T23:59:59.5Z", "1969-12-31T23:59:53Z", "1970-01-01T00:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := at(tt.t)
			if got := tt.p.Start(ts); !got.Equal(at(tt.start)) || got.Location() != time.UTC {
				t.Errorf("Start=%v, want %v UTC", got, tt.start)
			}
			if got := tt.p.End(ts); !got.Equal(at(tt.end)) {
				t.Errorf("End=%v, want %v", got, tt.end)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for in, want := range map[string]budget.Period{
			"day": budget.Daily, "week": budget.Weekly, "month": budget.Monthly,
			"1h": budget.Every(time.Hour), "90s": budget.Every(90 * time.Second),
		} {
			got, err := budget.ParsePeriod(in)
			if err != nil || got != want {
				t.Errorf("ParsePeriod(%q)=%v, %v, want %v", in, got, err, want)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back budget.Period
			if err := json.Unmarshal(b, &back); err != nil || back != want {
				t.Errorf("JSON round trip of %v via %s = %v, %v", want, b, back, err)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, in := range []string{"", "daily", "0s", "-1h", "1500ms", "100000h", "1"} {
			if _, err := budget.ParsePeriod(in); !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("ParsePeriod(%q) err=%v, want ErrInvalid", in, err)
			}
		}
		if _, err := json.Marshal(budget.Period{}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Marshal(zero Period) err=%v, want ErrInvalid", err)
		}
	})
}
