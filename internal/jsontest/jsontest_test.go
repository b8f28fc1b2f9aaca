package jsontest_test

import (
	"math/big"
	"testing"

	"github.com/persistkit/persist/internal/jsontest"
)

// TestEqualJSON checks the fuzz oracle itself, against big.Rat where
// big.Rat is affordable.
func TestEqualJSON(t *testing.T) {
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
		got, err := jsontest.EqualJSON([]byte(tt.a), []byte(tt.b))
		if err != nil {
			t.Fatalf("EqualJSON(%s, %s): %v", tt.a, tt.b, err)
		}
		if got != tt.want {
			t.Errorf("EqualJSON(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		ra, okA := new(big.Rat).SetString(tt.a)
		rb, okB := new(big.Rat).SetString(tt.b)
		if okA && okB && (ra.Cmp(rb) == 0) != tt.want {
			t.Errorf("big.Rat disagrees on %s and %s", tt.a, tt.b)
		}
	}
	if _, err := jsontest.Decode([]byte(`{} x`)); err == nil {
		t.Errorf("Decode accepted trailing data")
	}
}
