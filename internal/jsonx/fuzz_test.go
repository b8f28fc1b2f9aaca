package jsonx_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/persistkit/persist/internal/jsonx"
)

// FuzzValidate checks that arbitrary input never panics and that the policy
// is never looser than encoding/json's RFC 8259 check.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a",null]`, `{"a":"\u00e9"}`, `1e400`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := jsonx.Validate(b)
		objErr := jsonx.ValidateObject(b)
		if err != nil {
			if objErr == nil {
				t.Fatalf("ValidateObject accepted %q that Validate rejects: %v", b, err)
			}
			if _, cerr := jsonx.Canonical(b); cerr == nil {
				t.Fatalf("Canonical accepted invalid %q", b)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Validate accepted %q, encoding/json rejects it", b)
		}
		if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) != (objErr == nil) {
			t.Fatalf("ValidateObject(%q) = %v, inconsistent with the first byte", b, objErr)
		}
		c, cerr := jsonx.Canonical(b)
		if cerr != nil {
			t.Fatalf("Canonical(%q) = %v after Validate accepted it", b, cerr)
		}
		if err := jsonx.Validate(c); err != nil {
			t.Fatalf("Canonical(%q) = %q is invalid: %v", b, c, err)
		}
		if objErr == nil {
			if _, err := jsonx.Merge(b, b); err != nil {
				t.Fatalf("Merge(%q, itself) = %v", b, err)
			}
			_, _ = jsonx.ParseFilter(b)
		}
	})
}

// FuzzCanonical checks the defining property of Canonical against an
// independent decoder: two valid inputs canonicalise equal exactly when they
// decode to the same value.
func FuzzCanonical(f *testing.F) {
	pairs := [][2]string{
		{`{"n":1e2}`, `{"n":100}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`"\u00e9"`, `"é"`},
		{`[1.10,-0]`, `[1.1,0]`},
		{`12345678901234567890`, `12345678901234567891`},
		{`{"b":[true,null],"a":"x"}`, `{"a":"x","b":[true,null]}`},
	}
	for _, p := range pairs {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if jsonx.Validate(a) != nil || jsonx.Validate(b) != nil {
			return
		}
		ca := mustCanonical(t, a)
		cb := mustCanonical(t, b)
		va, okA := refDecode(a)
		vb, okB := refDecode(b)
		if !okA || !okB {
			t.Skip("number exponent too large for the reference decoder")
		}
		if got, want := bytes.Equal(ca, cb), refEqual(va, vb); got != want {
			t.Fatalf("Canonical(%q) = %q, Canonical(%q) = %q: equal=%v, reference equal=%v", a, ca, b, cb, got, want)
		}
	})
}

func mustCanonical(t *testing.T, in []byte) []byte {
	t.Helper()
	c, err := jsonx.Canonical(in)
	if err != nil {
		t.Fatalf("Canonical(%q) = %v after Validate accepted it", in, err)
	}
	if again := mustCanonicalOnce(t, c); !bytes.Equal(again, c) {
		t.Fatalf("Canonical not idempotent: %q -> %q", c, again)
	}
	compact, err := jsonx.Compact(in)
	if err != nil {
		t.Fatalf("Compact(%q) = %v", in, err)
	}
	if fromCompact := mustCanonicalOnce(t, compact); !bytes.Equal(fromCompact, c) {
		t.Fatalf("Canonical(Compact(%q)) = %q, want %q", in, fromCompact, c)
	}
	return c
}

func mustCanonicalOnce(t *testing.T, in []byte) []byte {
	t.Helper()
	c, err := jsonx.Canonical(in)
	if err != nil {
		t.Fatalf("Canonical(%q) = %v", in, err)
	}
	return c
}

// refDecode decodes with encoding/json, which resolves duplicate keys
// last-wins like the policy does. It reports false when a number's exponent
// would make exact big.Rat arithmetic too expensive.
func refDecode(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		panic("reference decoder rejected valid input: " + err.Error())
	}
	return v, smallExponents(v)
}

func smallExponents(v any) bool {
	switch v := v.(type) {
	case json.Number:
		s := strings.ToLower(string(v))
		if i := strings.IndexByte(s, 'e'); i >= 0 {
			e, err := strconv.Atoi(strings.TrimLeft(s[i+1:], "+"))
			return err == nil && e >= -1000 && e <= 1000
		}
		return true
	case []any:
		for _, x := range v {
			if !smallExponents(x) {
				return false
			}
		}
	case map[string]any:
		for _, x := range v {
			if !smallExponents(x) {
				return false
			}
		}
	}
	return true
}

func refEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		ra, okA := new(big.Rat).SetString(string(a))
		rb, okB := new(big.Rat).SetString(string(b))
		if !okA || !okB {
			panic("big.Rat cannot parse " + string(a) + " or " + string(b))
		}
		return ra.Cmp(rb) == 0
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
