package jsonx_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/persistkit/persist/internal/jsonx"
)

func TestValidatePolicy(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means accepted
	}{
		{"accepts_surrounding_whitespace", " \t\r\n{} \n", ""},
		{"accepts_depth_1000", deep(1000), ""},
		{"rejects_depth_1001", deep(1001), "nesting deeper than 1000"},
		{"rejects_BOM", "\xef\xbb\xbf{}", "byte order mark"},
		{"rejects_empty", "", "unexpected end of input"},
		{"rejects_escaped_NUL_in_value", `{"a":"x\u0000"}`, `string contains \u0000 at offset 7`},
		{"rejects_escaped_NUL_in_key", `{"\u0000":1}`, `string contains \u0000 at offset 2`},
		{"rejects_raw_NUL", "{\"a\":\"x\x00\"}", `string contains \u0000 at offset 7`},
		{"accepts_escaped_backslash_then_u0000", `["\\u0000"]`, ""},
		{"rejects_lone_high_surrogate", `["\ud800"]`, "unpaired high surrogate"},
		{"rejects_high_surrogate_then_non_low", `["\ud800\u0041"]`, "unpaired high surrogate"},
		{"rejects_lone_low_surrogate", `["\udc00"]`, "lone low surrogate"},
		{"accepts_surrogate_pair", `["\ud83d\ude00"]`, ""},
		{"rejects_invalid_UTF8", "[\"\xff\"]", "invalid UTF-8 in string at offset 2"},
		{"rejects_UTF8_encoded_surrogate", "[\"\xed\xa0\x80\"]", "invalid UTF-8"},
		{"rejects_overlong_UTF8", "[\"\xc0\xaf\"]", "invalid UTF-8"},
		{"accepts_1E400", `1E400`, ""},
		{"accepts_max_integer_digits", `1e131071`, ""},
		{"rejects_too_many_integer_digits", `1e131072`, "131073 digits before the decimal point"},
		{"rejects_1e1000000", `1e1000000`, "digits before the decimal point"},
		{"accepts_max_scale", `1e-16383`, ""},
		{"rejects_too_large_scale", `1e-16384`, "16384 digits after the decimal point"},
		{"rejects_written_trailing_zeros_beyond_scale", `1.50e-16382`, "16384 digits after"},
		{"rejects_123e-10000000", `123e-10000000`, "digits after the decimal point"},
		{"accepts_zero_with_large_exponent", `0e999999999`, ""},
		{"accepts_zero_with_max_exponent", `0e1073741822`, ""},
		{"accepts_zero_with_max_exponent_spelled_out", `-0.00E+01073741822`, ""},
		{"rejects_zero_with_exponent_int32_max_half", `0e1073741823`, "exponent beyond ±1073741822"},
		{"rejects_negative_zero_with_exponent_int32_max_half", `-0.00e+1073741823`, "exponent beyond"},
		{"rejects_zero_with_exponent_minus_int32_max_half", `0e-1073741823`, "exponent beyond"},
		{"rejects_zero_with_large_negative_exponent", `0e-1073741822`, "digits after the decimal point"},
		{"rejects_exponent_beyond_postgres", `0e2000000000`, "exponent beyond"},
		{"rejects_huge_exponent_digits", `1e` + strings.Repeat("9", 50), "exponent beyond"},
		{"rejects_leading_zero", `01`, "offset 1"},
		{"rejects_trailing_garbage", `{} x`, "unexpected character 'x' after top-level value"},
		{"rejects_formfeed_whitespace", "\f[]", "byte 0x0c"},
		{"rejects_unescaped_tab_in_string", "[\"\t\"]", "control character 0x09"},
		{"accepts_escaped_controls", `["\b\f\n\r\t\/\"\\\u001f"]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := jsonx.Validate([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%.60q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%.60q) = %v, want error containing %q", tt.in, err, tt.wantErr)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "jsonx: ") || strings.HasSuffix(msg, ".") {
				t.Fatalf("error %q does not follow the message style", msg)
			}
		})
	}
}

func TestValidateObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"accepts_object", ` {"a":[1,{"b":null}]} `, ""},
		{"rejects_array", `[]`, "expected a JSON object at offset 0, found an array"},
		{"rejects_string_after_whitespace", `  "x"`, "offset 2, found a string"},
		{"rejects_number", `1`, "found a number"},
		{"rejects_null", `null`, "found null"},
		{"rejects_garbage", `x`, "invalid JSON at offset 0"},
		{"rejects_two_objects", `{}{}`, "after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := jsonx.ValidateObject([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateObject(%q) = %v", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateObject(%q) = %v, want error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-0", "0"},
		{"-0.000e-5", "0"},
		{"0e999999999999999999999", "0"},
		{"1", "1"},
		{"1.0", "1"},
		{"1.10", "1.1"},
		{"1e2", "100"},
		{"1E+2", "100"},
		{"100e-2", "1"},
		{"-1.5", "-1.5"},
		{"1.5E-3", "0.0015"},
		{"0.000", "0"},
		{"00.5e1", ""}, // invalid: leading zero
		{"12345678901234567890", "12345678901234567890"},
		{"1e20", "100000000000000000000"},
		{"1e21", "1e21"},
		{"1e-21", "0.000000000000000000001"},
		{"1e-22", "1e-22"},
		{"123e-24", "1.23e-22"},
		{"1E400", "1e400"},
		{"-1.5e+9999", "-1.5e9999"},
		{"123123e100000", "1.23123e100005"},
		{"123.456e-789", "1.23456e-787"},
		{"1e000000000000000000000000000007", "10000000"},
		{"1e99999999999999999999", "1e99999999999999999999"},
		{"12.5e-99999999999999999999", "1.25e-99999999999999999998"},
		{"0.0000000000000000001234", "0.0000000000000000001234"},
		{"1234.5678e2", "123456.78"},
		{"1000", "1000"},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		t.Run(tt.in, func(t *testing.T) {
			got, err := jsonx.CanonicalNumber(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			again, err := jsonx.CanonicalNumber(got)
			if err != nil || again != got {
				t.Fatalf("CanonicalNumber not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
	for _, bad := range []string{"", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1 ", " 1", "NaN", "Infinity", "1.5.5", "00.5e1"} {
		t.Run("rejects_"+bad, func(t *testing.T) {
			if got, err := jsonx.CanonicalNumber(bad); err == nil {
				t.Fatalf("CanonicalNumber(%q) = %q, want error", bad, got)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "b" : 1 , "a" : [ true , false , null ] } `, `{"a":[true,false,null],"b":1}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"b":{"y":1,"x":2,"y":3},"a":1,"b":{"z":0}}`, `{"a":1,"b":{"z":0}}`},
		{`{"\u00e9":1,"e":2,"z":3}`, `{"e":2,"z":3,"é":1}`},
		{`["\u00e9", "\/", "\u001F", "\b\f\n\r\t", "\"\\", "\u2028\u007f"]`, "[\"é\",\"/\",\"\\u001f\",\"\\b\\f\\n\\r\\t\",\"\\\"\\\\\",\"\u2028\x7f\"]"},
		{`"\ud83d\ude00"`, `"😀"`},
		{`[1e2, 1.10, -0, 1.0]`, `[100,1.1,0,1]`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		// Keys sort by decoded bytes, not by their escaped spelling.
		{`{"a\"":1,"a":2,"a!":3}`, `{"a":2,"a!":3,"a\"":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := jsonx.Canonical([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Canonical(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCanonicalEquivalence(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"equal_exponent_and_plain", `{"n":1e2}`, `{"n":100}`, true},
		{"equal_trailing_fraction_zeros", `1.10`, `1.1`, true},
		{"equal_integer_with_zero_fraction", `1.0`, `1`, true},
		{"equal_negative_zero", `-0`, `0`, true},
		{"equal_scaled_exponents", `0.5e3`, `5000e-1`, true},
		{"equal_huge_exponent_forms", `1e400`, `10e399`, true},
		{"differ_big_integers", `12345678901234567890`, `12345678901234567891`, false},
		{"differ_tiny_difference", `1.0000000000000000000000001`, `1`, false},
		{"equal_key_order", `{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{"equal_duplicate_last_wins", `{"a":1,"a":2}`, `{"a":2}`, true},
		{"differ_duplicate_first_kept", `{"a":1,"a":2}`, `{"a":1}`, false},
		{"equal_unicode_escape", `"\u00e9"`, `"é"`, true},
		{"equal_solidus_escape", `"\/"`, `"/"`, true},
		{"equal_escaped_key", `{"\u0061":1}`, `{"a":1}`, true},
		{"equal_whitespace", "[ 1 ,\n2 ]", `[1,2]`, true},
		{"differ_array_order", `[1,2]`, `[2,1]`, false},
		{"differ_string_and_number", `"1"`, `1`, false},
		{"differ_null_and_missing", `{"a":null}`, `{}`, false},
		{"equal_surrogate_pair_and_raw", `"\uD834\uDD1E"`, `"𝄞"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := jsonx.Canonical([]byte(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := jsonx.Canonical([]byte(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(ca, cb) != tt.equal {
				t.Fatalf("Canonical(%q) = %q, Canonical(%q) = %q, want equal=%v", tt.a, ca, tt.b, cb, tt.equal)
			}
			da, _ := jsonx.Digest([]byte(tt.a))
			db, _ := jsonx.Digest([]byte(tt.b))
			if (da == db) != tt.equal {
				t.Fatalf("Digest equality = %v, want %v", da == db, tt.equal)
			}
			if da != sha256.Sum256(ca) {
				t.Fatalf("Digest is not sha256 of Canonical")
			}
		})
	}
}

func TestCanonicalRejectsInvalid(t *testing.T) {
	for _, in := range []string{`{"a":1`, `"\u0000"`, `1e1000000`, "\"\xff\""} {
		if got, err := jsonx.Canonical([]byte(in)); err == nil {
			t.Errorf("Canonical(%q) = %q, want error", in, got)
		}
		if _, err := jsonx.Digest([]byte(in)); err == nil {
			t.Errorf("Digest(%q) succeeded, want error", in)
		}
		if got, err := jsonx.Compact([]byte(in)); err == nil {
			t.Errorf("Compact(%q) = %q, want error", in, got)
		}
	}
}

func TestCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "b" : 1.10 , "a" : [ 1e2 , "x y\t\"z\" \\" ] , "b" : 2 } `, `{"b":1.10,"a":[1e2,"x y\t\"z\" \\"],"b":2}`},
		{"\n[\r\n]\n", `[]`},
		{`"\u00e9 "`, `"\u00e9 "`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := jsonx.Compact([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Compact(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
	}{
		{"replaces_and_appends", `{"a":1,"b":2}`, `{"b":3,"c":4}`, `{"a":1,"b":3,"c":4}`},
		{"null_sets_null", `{"a":1,"b":2}`, `{"a":null}`, `{"a":null,"b":2}`},
		{"keeps_doc_order", `{"z":1,"a":2}`, `{"a":3,"z":4}`, `{"z":4,"a":3}`},
		{"replaces_whole_nested_value", `{"a":{"x":1,"y":2}}`, `{"a":{"y":3}}`, `{"a":{"y":3}}`},
		{"keeps_number_spelling", `{"a":1.10,"b":1e2}`, `{"c":1.500E+3}`, `{"a":1.10,"b":1e2,"c":1.500E+3}`},
		{"empty_patch", ` { "a" : [ 1 , 2 ] } `, `{}`, `{"a":[1,2]}`},
		{"empty_doc", `{}`, `{"b":1,"a":2}`, `{"b":1,"a":2}`},
		{"patch_duplicate_last_wins", `{"a":0}`, `{"b":1,"a":2,"b":3}`, `{"a":2,"b":3}`},
		{"doc_duplicates_all_replaced", `{"a":1,"b":0,"a":2}`, `{"a":3}`, `{"a":3,"b":0,"a":3}`},
		{"matches_escaped_keys", `{"a":1}`, `{"\u0061":2}`, `{"a":2}`},
		{"keeps_string_escapes", `{"s":"\u00e9 x"}`, `{"t":"\n"}`, `{"s":"\u00e9 x","t":"\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonx.Merge([]byte(tt.doc), []byte(tt.patch))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Merge(%s, %s) = %s, %v; want %s", tt.doc, tt.patch, got, err, tt.want)
			}
			if err := jsonx.ValidateObject(got); err != nil {
				t.Fatalf("Merge result invalid: %v", err)
			}
		})
	}
}

func TestMergeErrors(t *testing.T) {
	tests := []struct {
		name, doc, patch, wantErr string
	}{
		{"rejects_array_doc", `[]`, `{}`, "jsonx: merge document: expected a JSON object"},
		{"rejects_array_patch", `{}`, `[1]`, "jsonx: merge patch: expected a JSON object"},
		{"rejects_null_patch", `{}`, `null`, "merge patch: expected a JSON object at offset 0, found null"},
		{"rejects_invalid_doc", `{"a":}`, `{}`, "merge document: invalid JSON at offset 5"},
		{"rejects_NUL_in_patch", `{}`, `{"a":"\u0000"}`, `merge patch: string contains \u0000`},
		{"rejects_empty_patch", `{}`, ``, "merge patch: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonx.Merge([]byte(tt.doc), []byte(tt.patch))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Merge(%s, %s) = %s, %v; want error containing %q", tt.doc, tt.patch, got, err, tt.wantErr)
			}
			if errors.Unwrap(err) == nil {
				t.Fatalf("Merge error %v does not wrap the validation error", err)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []jsonx.Field
	}{
		{"empty_yields_no_fields", ` {} `, nil},
		{"sorted_by_key", `{"b":1, "a":"x", "c":true, "B":null}`, []jsonx.Field{
			{Key: "B", Value: json.RawMessage(`null`), Kind: jsonx.KindNull},
			{Key: "a", Value: json.RawMessage(`"x"`), Kind: jsonx.KindString},
			{Key: "b", Value: json.RawMessage(`1`), Kind: jsonx.KindNumber},
			{Key: "c", Value: json.RawMessage(`true`), Kind: jsonx.KindBool},
		}},
		{"keeps_value_spelling_and_decodes_keys", `{"\u00e9":1.50e1,"f":false,"s":"\u00e9"}`, []jsonx.Field{
			{Key: "f", Value: json.RawMessage(`false`), Kind: jsonx.KindBool},
			{Key: "s", Value: json.RawMessage(`"\u00e9"`), Kind: jsonx.KindString},
			{Key: "é", Value: json.RawMessage(`1.50e1`), Kind: jsonx.KindNumber},
		}},
		{"does_not_validate_key_syntax", `{"":-1,"a.b c":0}`, []jsonx.Field{
			{Key: "", Value: json.RawMessage(`-1`), Kind: jsonx.KindNumber},
			{Key: "a.b c", Value: json.RawMessage(`0`), Kind: jsonx.KindNumber},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonx.ParseFilter([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseFilter(%s) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Key != w.Key || !bytes.Equal(g.Value, w.Value) || g.Kind != w.Kind {
					t.Fatalf("field %d = {%q %s %v}, want {%q %s %v}", i, g.Key, g.Value, g.Kind, w.Key, w.Value, w.Kind)
				}
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"rejects_array_value", `{"a":1,"b":[1]}`, `jsonx: filter value for key "b" at offset 11 is an array; only scalars are allowed`},
		{"rejects_object_value", `{"a":{}}`, `key "a" at offset 5 is an object`},
		{"rejects_duplicate_key", `{"a":1,"b":2,"a":1}`, `jsonx: filter has duplicate key "a"`},
		{"rejects_duplicate_after_decoding", `{"a":1,"\u0061":2}`, `duplicate key "a"`},
		{"rejects_non_object", `[]`, `jsonx: filter: expected a JSON object`},
		{"rejects_invalid_json", `{"a":1,}`, `jsonx: filter: invalid JSON at offset 7`},
		{"rejects_NUL", `{"a":"\u0000"}`, `jsonx: filter: string contains \u0000 at offset 6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonx.ParseFilter([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFilter(%s) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    jsonx.Kind
		want string
	}{
		{jsonx.KindNull, "null"}, {jsonx.KindBool, "bool"}, {jsonx.KindNumber, "number"}, {jsonx.KindString, "string"}, {0, "Kind(0)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}

func TestParseFilterValueDoesNotAlias(t *testing.T) {
	in := []byte(`{"a":"x"}`)
	fields, err := jsonx.ParseFilter(in)
	if err != nil {
		t.Fatal(err)
	}
	in[6] = 'y'
	if string(fields[0].Value) != `"x"` {
		t.Fatalf("Field.Value aliases the input: %s", fields[0].Value)
	}
}

func TestValidateDoesNotAllocate(t *testing.T) {
	doc := []byte(benchDoc)
	allocs := testing.AllocsPerRun(100, func() {
		if err := jsonx.ValidateObject(doc); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ValidateObject allocated %v times per run", allocs)
	}
}

const benchDoc = `{"id":"c0ffee-42","name":"Zoë Ågren","tags":["naïve","café","日本語"],` +
	`"address":{"street":"Straße 5","city":"Montréal","geo":{"lat":45.5017,"lng":-73.5673}},` +
	`"scores":[1,2.5,3e2,-0.125],"active":true,"note":null,"emoji":"\ud83d\ude00 ok","n":12345678901234567890}`

func BenchmarkValidateObject(b *testing.B) {
	doc := []byte(benchDoc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := jsonx.ValidateObject(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	doc := []byte(benchDoc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jsonx.Canonical(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCompactObject(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{ "a" : 1 , "b" : [ 1 , 2 ] }`, `{"a":1,"b":[1,2]}`},
		{`{"k":1,"k":2}`, `{"k":2}`},
		{`{"k":{"x":1},"a":0,"k":3}`, `{"k":3,"a":0}`},
		{`{"n":{"d":1,"d":2}}`, `{"n":{"d":1,"d":2}}`},
		{`{"\u0061":1,"a":2}`, `{"\u0061":2}`},
	}
	for _, tt := range tests {
		got, err := jsonx.CompactObject([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("CompactObject(%s)=%s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`[1]`, `{"a":}`, `"s"`, ``} {
		if _, err := jsonx.CompactObject([]byte(bad)); err == nil {
			t.Errorf("CompactObject(%q) succeeded, want an error", bad)
		}
	}
}

// pipelineDocs are a migration's documents: as the earlier portal stored
// one, and as PostgreSQL's jsonb returns it (keys by length, then bytes).
var pipelineDocs = []string{
	`{"pipeline":"ingest-orders","run":175456,"status":"succeeded","started":"2024-01-02T16:03:59Z","ms":1177941,` +
		`"trigger":{"kind":"manual","by":"Søren Kierkegård"},"steps":[{"n":"transform","ok":false,"rows":545432},` +
		`{"n":"validate","ok":true,"rows":316556}],"cost":{"usd":320.02},"tags":["prod","nightly"]}`,
	`{"ms": 1177941, "run": 175456, "cost": {"usd": 320.02}, "tags": ["prod", "nightly"], "steps": [{"n": "transform", ` +
		`"ok": false, "rows": 545432}, {"n": "validate", "ok": true, "rows": 316556}], "status": "succeeded", ` +
		`"started": "2024-01-02T16:03:59Z", "trigger": {"by": "Søren Kierkegård", "kind": "manual"}, "pipeline": "ingest-orders"}`,
}

func BenchmarkDigest(b *testing.B) {
	for i, name := range []string{"Source", "JSONB"} {
		doc := []byte(pipelineDocs[i])
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jsonx.Digest(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
