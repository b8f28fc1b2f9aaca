package budget

import (
	"fmt"
	"math"
	"strconv"

	"github.com/persistkit/persist"
)

// Micros is an amount of money in millionths of the currency unit: 1.25
// (dollars, euros, ...) is Micros(1_250_000). Integer micro-units keep every
// sum exact; nothing in this package uses floating point.
type Micros int64

// MicrosPerUnit is the number of micro-units in one currency unit.
const MicrosPerUnit Micros = 1_000_000

// ParseMicros parses a decimal amount such as "1.25", "0.000001" or "-3"
// exactly. It accepts an optional minus sign, one or more digits, and an
// optional fraction of one or more digits; digits beyond the sixth
// fractional place must be zeros, since they could not be represented.
// Exponents, a leading "+", spaces and thousands separators are rejected.
// Errors match [persist.ErrInvalid]; an out-of-range amount also matches
// [ErrOverflow].
func ParseMicros(s string) (Micros, error) {
	bad := func(why string) (Micros, error) {
		return 0, fmt.Errorf("budget: parse amount %s: %w: %s", strconv.Quote(truncate(s)), persist.ErrInvalid, why)
	}
	rest := s
	neg := false
	if len(rest) > 0 && rest[0] == '-' {
		neg = true
		rest = rest[1:]
	}
	intPart, frac := rest, ""
	for i := 0; i < len(rest); i++ {
		if rest[i] == '.' {
			intPart, frac = rest[:i], rest[i+1:]
			if frac == "" {
				return bad("no digits after the decimal point")
			}
			break
		}
	}
	if intPart == "" {
		return bad("no digits before the decimal point")
	}
	// Accumulate as a negative number so that math.MinInt64 parses.
	var v int64
	digit := func(c byte) (int64, bool) {
		if c < '0' || c > '9' {
			return 0, false
		}
		return int64(c - '0'), true
	}
	for i := 0; i < len(intPart); i++ {
		d, ok := digit(intPart[i])
		if !ok {
			return bad("not a decimal number")
		}
		if v < (math.MinInt64+d)/10 {
			return 0, fmt.Errorf("budget: parse amount %s: %w", strconv.Quote(truncate(s)), ErrOverflow)
		}
		v = v*10 - d
	}
	for i := 0; i < 6; i++ {
		var d int64
		if i < len(frac) {
			var ok bool
			if d, ok = digit(frac[i]); !ok {
				return bad("not a decimal number")
			}
		}
		if v < (math.MinInt64+d)/10 {
			return 0, fmt.Errorf("budget: parse amount %s: %w", strconv.Quote(truncate(s)), ErrOverflow)
		}
		v = v*10 - d
	}
	for i := 6; i < len(frac); i++ {
		d, ok := digit(frac[i])
		if !ok {
			return bad("not a decimal number")
		}
		if d != 0 {
			return bad("more than six decimal places")
		}
	}
	if !neg {
		if v == math.MinInt64 {
			return 0, fmt.Errorf("budget: parse amount %s: %w", strconv.Quote(truncate(s)), ErrOverflow)
		}
		v = -v
	}
	return Micros(v), nil
}

// String formats m with exactly six decimal places: "1.250000", "-0.000001".
func (m Micros) String() string {
	u := uint64(m)
	sign := ""
	if m < 0 {
		sign = "-"
		u = -u // two's complement: correct for math.MinInt64 too
	}
	return fmt.Sprintf("%s%d.%06d", sign, u/1_000_000, u%1_000_000)
}

// Add returns m+n, or an error matching [ErrOverflow] (and so
// [persist.ErrInvalid]) when the sum does not fit in an int64.
func (m Micros) Add(n Micros) (Micros, error) {
	s := m + n
	if (n > 0 && s < m) || (n < 0 && s > m) {
		return 0, fmt.Errorf("budget: %s + %s: %w", m, n, ErrOverflow)
	}
	return s, nil
}

// Sub returns m-n, or an error matching [ErrOverflow] when the difference
// does not fit in an int64.
func (m Micros) Sub(n Micros) (Micros, error) {
	s := m - n
	if (n > 0 && s > m) || (n < 0 && s < m) {
		return 0, fmt.Errorf("budget: %s - %s: %w", m, n, ErrOverflow)
	}
	return s, nil
}

// satAdd adds non-negative amounts, saturating at the largest value: used
// where an overflowing total must simply compare as "more than any limit".
func satAdd(a, b Micros) Micros {
	if s, err := a.Add(b); err == nil {
		return s
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
