package budget_test

import (
	"errors"
	"math"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
)

func TestParseMicros(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, tt := range []struct {
			in   string
			want budget.Micros
		}{
			{"0", 0},
			{"1", 1_000_000},
			{"1.25", 1_250_000},
			{"0.000001", 1},
			{"-0.000001", -1},
			{"12.3456780000", 12_345_678},
			{"007.5", 7_500_000},
			{"9223372036854.775807", math.MaxInt64},
			{"-9223372036854.775808", math.MinInt64},
		} {
			got, err := budget.ParseMicros(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseMicros(%q)=%d, %v, want %d", tt.in, got, err, tt.want)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, in := range []string{"", "-", ".5", "1.", "+1", " 1", "1 ", "1e3", "1,000", "0x10", "1.0000001", "1.2.3", "--1", "NaN"} {
			_, err := budget.ParseMicros(in)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("ParseMicros(%q) err=%v, want ErrInvalid", in, err)
			}
		}
	})
	t.Run("ErrOverflow", func(t *testing.T) {
		for _, in := range []string{"9223372036854.775808", "-9223372036854.775809", "99999999999999999999"} {
			_, err := budget.ParseMicros(in)
			if !errors.Is(err, budget.ErrOverflow) || !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("ParseMicros(%q) err=%v, want ErrOverflow and ErrInvalid", in, err)
			}
		}
	})
}

func TestMicrosString(t *testing.T) {
	for _, tt := range []struct {
		in   budget.Micros
		want string
	}{
		{0, "0.000000"},
		{1_250_000, "1.250000"},
		{1, "0.000001"},
		{-1, "-0.000001"},
		{-1_500_000, "-1.500000"},
		{math.MaxInt64, "9223372036854.775807"},
		{math.MinInt64, "-9223372036854.775808"},
	} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Micros(%d).String()=%q, want %q", int64(tt.in), got, tt.want)
		}
		if back, err := budget.ParseMicros(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseMicros(%q)=%d, %v, want %d", tt.want, back, err, tt.in)
		}
	}
}

func TestMicrosAdd(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if s, err := budget.Micros(2).Add(3); s != 5 || err != nil {
			t.Errorf("2+3=%v, %v", s, err)
		}
		if s, err := budget.Micros(math.MaxInt64).Add(-1); s != math.MaxInt64-1 || err != nil {
			t.Errorf("max-1=%v, %v", s, err)
		}
		if s, err := budget.Micros(5).Sub(7); s != -2 || err != nil {
			t.Errorf("5-7=%v, %v", s, err)
		}
	})
	t.Run("ErrOverflow", func(t *testing.T) {
		for _, f := range []func() (budget.Micros, error){
			func() (budget.Micros, error) { return budget.Micros(math.MaxInt64).Add(1) },
			func() (budget.Micros, error) { return budget.Micros(math.MinInt64).Add(-1) },
			func() (budget.Micros, error) { return budget.Micros(math.MinInt64).Sub(1) },
			func() (budget.Micros, error) { return budget.Micros(0).Sub(math.MinInt64) },
		} {
			if _, err := f(); !errors.Is(err, budget.ErrOverflow) || !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("err=%v, want ErrOverflow", err)
			}
		}
	})
}
