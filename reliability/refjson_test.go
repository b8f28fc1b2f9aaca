package reliability_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
)

// refDecode decodes one JSON value with encoding/json, independently of
// internal/jsonx: numbers stay json.Number, and duplicate object keys
// resolve last-wins, as the persist JSON policy says they do.
func refDecode(b []byte) (any, error) {
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

// refEqualJSON reports whether a and b are the same JSON value: same types,
// same keys, numbers equal exactly (1, 1.0 and 1e0 are equal; 2^64 and
// 2^64+1 are not).
func refEqualJSON(a, b []byte) (bool, error) {
	va, err := refDecode(a)
	if err != nil {
		return false, err
	}
	vb, err := refDecode(b)
	if err != nil {
		return false, err
	}
	return refEqual(va, vb), nil
}

func refEqual(a, b any) bool {
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
			if !refEqual(a[i], b[i]) {
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
			if !ok || !refEqual(va, vb) {
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

// TestReferenceDecoder checks the fuzz oracle itself, against big.Rat where
// big.Rat is affordable.
func TestReferenceDecoder(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`1`, `1.0`, true},
		{`1`, `1e0`, true},
		{`100`, `1E+2`, true},
		{`0.1`, `1e-1`, true},
		{`-0`, `0`, true},
		{`-0.0e5`, `0`, true},
		{`12345678901234567890`, `12345678901234567891`, false},
		{`1`, `-1`, false},
		{`1e400`, `1e401`, false},
		{`10e-1`, `1`, true},
		{`{"a":1,"a":2}`, `{"a":2}`, true},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`[1,true,null]`, `[1.0,true,null]`, true},
		{`"\u00e9"`, `"é"`, true},
		{`{}`, `[]`, false},
	}
	for _, tt := range tests {
		got, err := refEqualJSON([]byte(tt.a), []byte(tt.b))
		if err != nil {
			t.Fatalf("refEqualJSON(%s, %s): %v", tt.a, tt.b, err)
		}
		if got != tt.want {
			t.Errorf("refEqualJSON(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		ra, okA := new(big.Rat).SetString(tt.a)
		rb, okB := new(big.Rat).SetString(tt.b)
		if okA && okB && (ra.Cmp(rb) == 0) != tt.want {
			t.Errorf("big.Rat disagrees on %s and %s", tt.a, tt.b)
		}
	}
	if _, err := refDecode([]byte(`{} x`)); err == nil {
		t.Errorf("refDecode accepted trailing data")
	}
}
