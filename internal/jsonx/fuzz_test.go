package jsonx_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/persistkit/persist/internal/jsontest"
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
			if _, derr := jsonx.Digest(b); derr == nil {
				t.Fatalf("Digest accepted invalid %q", b)
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
		// Equal JSONBText proves equal values (migrate relies on it), so
		// the text must denote b's value exactly.
		if text, ok := jsonx.JSONBText(nil, b); ok {
			if ct, err := jsonx.Canonical(text); err != nil || !bytes.Equal(ct, c) {
				t.Fatalf("JSONBText(%q) = %q, canonically %q, %v; want %q", b, text, ct, err, c)
			}
		}
		// Digest reuses pooled buffers; it must hash exactly Canonical's
		// output whatever the previous input left in them.
		if d, err := jsonx.Digest(b); err != nil || d != sha256.Sum256(c) {
			t.Fatalf("Digest(%q) = %x, %v; want the SHA-256 of %q", b, d, err, c)
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
		want, err := jsontest.EqualJSON(a, b)
		if err != nil {
			t.Fatalf("reference decoder rejected valid input: %v", err)
		}
		if got := bytes.Equal(ca, cb); got != want {
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
