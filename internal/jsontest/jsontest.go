// Package jsontest is the reference JSON decoder the tests check
// internal/jsonx and the backends against. It uses encoding/json, so it
// shares no code with jsonx, and compares numbers exactly by decimal value
// without expanding exponents, so 1e-999999 costs no more than 1e-9.
package jsontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
)

// Decode decodes one JSON value with encoding/json, independently of
// internal/jsonx: numbers stay json.Number, and duplicate object keys
// resolve last-wins, as the persist JSON policy says they do.
func Decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// EqualJSON reports whether a and b are the same JSON value: same types,
// same keys, numbers equal exactly (1, 1.0 and 1e0 are equal; 2^64 and
// 2^64+1 are not).
func EqualJSON(a, b []byte) (bool, error) {
	va, err := Decode(a)
	if err != nil {
		return false, err
	}
	vb, err := Decode(b)
	if err != nil {
		return false, err
	}
	return Equal(va, vb), nil
}

// Equal reports whether two values from Decode are the same JSON value.
func Equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		return ok && decimalEqual(string(a), string(b))
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !Equal(va, vb) {
				return false
			}
		}
		return true
	default: // string, bool, nil
		return a == b
	}
}

// decimal is a JSON number as sign × digits × 10^exp, with digits free of
// leading and trailing zeros (empty for zero, whose sign is ignored). The
// exponent is a big.Int, so 1e-999999 costs no more than 1e-9: big.Rat
// would have to expand it.
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int
}

// parseDecimal parses a number encoding/json accepted.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	d.exp = new(big.Int)
	if hasExp {
		if _, ok := d.exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok {
			return decimal{}, false
		}
	}
	d.exp.Sub(d.exp, big.NewInt(int64(len(frac))))
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.exp.Add(d.exp, big.NewInt(int64(len(digits)-len(trimmed))))
	d.digits = trimmed
	if d.digits == "" {
		d.neg = false
		d.exp.SetInt64(0)
	}
	return d, true
}

// decimalEqual compares two JSON numbers exactly.
func decimalEqual(a, b string) bool {
	da, okA := parseDecimal(a)
	db, okB := parseDecimal(b)
	if !okA || !okB {
		return false
	}
	return da.neg == db.neg && da.digits == db.digits && da.exp.Cmp(db.exp) == 0
}
