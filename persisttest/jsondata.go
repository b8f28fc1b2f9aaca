package persisttest

import (
	"embed"
	"encoding/json"
	"errors"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

// jsonTestSuite holds the y_ (must accept) and n_ (must reject) parsing
// cases of JSONTestSuite, with its license.
//
//go:embed testdata/jsontestsuite
var jsonTestSuite embed.FS

const jsonTestSuiteDir = "testdata/jsontestsuite"

// nulCases are the y_ documents that contain U+0000, which PostgreSQL cannot
// store in JSONB; every backend rejects them alike. The similar-looking
// y_string_backslash_and_u_escaped_zero ("\\u0000", a backslash and five
// characters) contains no U+0000 and must be accepted.
var nulCases = map[string]bool{
	"y_object_escaped_null_in_key": true,
	"y_string_null_escape":         true,
}

func testJSON(t *testing.T, open openFunc) {
	t.Run("Unicode", func(t *testing.T) {
		_, s := openStore(t, open, "docs")
		for _, tt := range []struct {
			name, data, want string
		}{
			{"Emoji", `{"s":"😀 👍🏽 👨‍👩‍👧 🇳🇿"}`, ""},
			{"CJK", `{"s":"漢字 かな カナ 한국어 𠜎"}`, ""},
			{"RightToLeft", `{"s":"مرحبا بالعالم שלום עולם"}`, ""},
			// e + U+0301 must not be normalised to U+00E9.
			{"CombiningMarks", "{\"s\":\"e\u0301 a\u0308 Z\u0351\u0358\"}", ""},
			{"EscapedEqualsRaw", `{"s":"\u00e9\u00E9"}`, `{"s":"éé"}`},
			{"EscapedSurrogatePair", `{"s":"\ud83d\ude00"}`, `{"s":"😀"}`},
			{"Keys", `{"ключ":"значение","鍵":"値","😀":1,"":"empty key"}`, ""},
			{"Escapes", `{"s":"q\" b\\ s\/ \b\f\n\r\t \u0001\u001f \u007f"}`, "{\"s\":\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f \x7f\"}"},
			{"LineSeparators", "{\"s\":\"a\u2028b\u2029c\"}", `{"s":"a\u2028b\u2029c"}`},
			{"Noncharacters", "{\"s\":\"\uffff \U0010ffff \ufeff\"}", `{"s":"\uffff\u0020\udbff\udfff\u0020\ufeff"}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				want := tt.want
				if want == "" {
					want = tt.data
				}
				put, err := s.Put(t.Context(), persist.Record{ID: tt.name, Data: json.RawMessage(tt.data)})
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				wantData(t, put.Data, want)
				wantData(t, mustGet(t, s, tt.name).Data, want)
			})
		}
	})

	t.Run("DeepNesting", func(t *testing.T) {
		const depth = 200
		_, s := openStore(t, open, "docs")
		arrays := `{"v":` + strings.Repeat("[", depth) + `1` + strings.Repeat("]", depth) + `}`
		objects := strings.Repeat(`{"a":`, depth) + `"leaf"` + strings.Repeat("}", depth)
		for id, data := range map[string]string{"arrays": arrays, "objects": objects} {
			mustPut(t, s, id, data)
			wantData(t, mustGet(t, s, id).Data, data)
		}
	})

	t.Run("Numbers", func(t *testing.T) {
		_, s := openStore(t, open, "docs")
		const data = `{"big":12345678901234567890,"dec":1.10,"neg_big":-98765432109876543210987654321,` +
			`"above_2_53":9007199254740993,"near_one":1.0000000000000000000001,"huge":1e400,"tiny":1e-400,` +
			`"avogadro":6.02214076e23,"zero":0,"neg_zero":-0,"frac":0.1}`
		put := mustPut(t, s, "n", data)
		recs := mustList(t, s.Query(t.Context(), json.RawMessage(`{"big":12345678901234567890}`), nil))
		if len(recs) != 1 {
			t.Fatalf("Query by big: %d records, want 1", len(recs))
		}
		for _, tt := range []struct {
			from string
			data json.RawMessage
		}{{"Put", put.Data}, {"Get", mustGet(t, s, "n").Data}, {"Query", recs[0].Data}} {
			// Exact values for all, and for these two the spelling too:
			// both backends keep it, and callers compare such numbers as
			// text.
			wantData(t, tt.data, data)
			for key, want := range map[string]string{"big": "12345678901234567890", "dec": "1.10"} {
				n, err := numberAt(tt.data, key)
				if err != nil {
					t.Errorf("%s: %v", tt.from, err)
				} else if string(n) != want {
					t.Errorf("%s: %s=%s, want %s exactly as written", tt.from, key, n, want)
				}
			}
		}
	})

	t.Run("LargeDocument", func(t *testing.T) {
		_, s := openStore(t, open, "docs")
		var b strings.Builder
		b.WriteString(`{"blob":"`)
		b.WriteString(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
		b.WriteString(`"`)
		for i := range 1000 {
			b.WriteString(`,"k`)
			b.WriteString(strings.Repeat("x", i%7))
			b.WriteString(strconv.Itoa(i))
			b.WriteString(`":`)
			b.WriteString(strconv.Itoa(i))
		}
		b.WriteString(`}`)
		data := b.String()
		mustPut(t, s, "big", data)
		wantData(t, mustGet(t, s, "big").Data, data)
	})

	t.Run("Whitespace", func(t *testing.T) {
		_, s := openStore(t, open, "docs")
		data := " \t\r\n{ \"a\" : [ 1 , { } ] , \"b\" :\"c\" }\n"
		mustPut(t, s, "ws", data)
		wantData(t, mustGet(t, s, "ws").Data, `{"a":[1,{}],"b":"c"}`)
		mustPut(t, s, "empty", `{}`)
		wantData(t, mustGet(t, s, "empty").Data, `{}`)
	})

	t.Run("JSONTestSuite", func(t *testing.T) { testJSONTestSuite(t, open) })
}

// suiteCase is one JSONTestSuite document.
type suiteCase struct {
	name string // the file name without .json
	data []byte
}

func loadSuite(t *testing.T, prefix string) []suiteCase {
	t.Helper()
	entries, err := jsonTestSuite.ReadDir(jsonTestSuiteDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []suiteCase
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := jsonTestSuite.ReadFile(path.Join(jsonTestSuiteDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, suiteCase{strings.TrimSuffix(e.Name(), ".json"), b})
	}
	if len(cases) == 0 {
		t.Fatalf("no %s*.json files embedded", prefix)
	}
	return cases
}

// wrap makes doc the value of the field "v", so that any JSON value, not
// just an object, can be stored.
func wrap(doc []byte) []byte {
	return append(append([]byte(`{"v":`), doc...), '}')
}

func testJSONTestSuite(t *testing.T, open openFunc) {
	t.Run("Accept", func(t *testing.T) {
		_, s := openStore(t, open, "accept")
		accepted := int64(0)
		for _, c := range loadSuite(t, "y_") {
			t.Run(c.name, func(t *testing.T) {
				data := wrap(c.data)
				_, err := s.Put(t.Context(), persist.Record{ID: c.name, Data: data})
				if nulCases[c.name] {
					wantErr(t, err, persist.ErrInvalid)
					wantMissing(t, s, c.name)
					return
				}
				if err != nil {
					t.Fatalf("Put(%s): %v", data, err)
				}
				accepted++
				wantData(t, mustGet(t, s, c.name).Data, string(data))
			})
		}
		wantCount(t, s, accepted)
	})
	t.Run("Reject", func(t *testing.T) {
		_, s := openStore(t, open, "reject")
		for _, c := range loadSuite(t, "n_") {
			t.Run(c.name, func(t *testing.T) {
				for _, data := range [][]byte{c.data, wrap(c.data)} {
					rec, err := s.Put(t.Context(), persist.Record{ID: c.name, Data: data})
					if !errors.Is(err, persist.ErrInvalid) {
						t.Errorf("Put(%.100q)=%.100s, %v; want %v", data, rec.Data, err, persist.ErrInvalid)
					}
				}
			})
		}
		wantCount(t, s, 0)
	})
}
