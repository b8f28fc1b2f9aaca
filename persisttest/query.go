package persisttest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

// queryData is the table the filter tests run against, in insertion order.
// The ids are not sorted, so results in id order would show.
var queryData = []struct{ id, data string }{
	{"int", `{"n":1}`},
	{"float", `{"n":1.0}`},
	{"exp", `{"n":1e0}`},
	{"frac-exp", `{"n":0.1e1}`},
	{"neg-exp", `{"n":10E-1}`},
	{"string", `{"n":"1"}`},
	{"true", `{"n":true}`},
	{"false", `{"n":false}`},
	{"zero", `{"n":0}`},
	{"null", `{"n":null}`},
	{"missing", `{"m":1}`},
	{"two", `{"n":2}`},
	{"ten", `{"n":10}`},
	{"near-one", `{"n":1.0000000000000000000001}`},
	{"big", `{"n":12345678901234567890}`},
	{"big-next", `{"n":12345678901234567891}`},
	{"object", `{"n":{"n":1}}`},
	{"array", `{"n":[1]}`},
	{"both-x", `{"n":1,"s":"x"}`},
	{"both-y", `{"s":"y","n":1}`},
	{"mixed-case", `{"Upper-Key":"v","n":2,"_k":"1"}`},
}

func testQuery(t *testing.T, open openFunc) {
	t.Run("Exact", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		var all []string
		for _, r := range queryData {
			mustPut(t, s, r.id, r.data)
			all = append(all, r.id)
		}
		ones := []string{"int", "float", "exp", "frac-exp", "neg-exp", "both-x", "both-y"}
		for _, tt := range []struct {
			name, filter string
			want         []string
		}{
			{"Int", `{"n":1}`, ones},
			{"Float", `{"n":1.0}`, ones},
			{"Exponent", `{"n":1e0}`, ones},
			{"ScaledExponent", `{"n":100E-2}`, ones},
			{"String", `{"n":"1"}`, []string{"string"}},
			{"True", `{"n":true}`, []string{"true"}},
			{"False", `{"n":false}`, []string{"false"}},
			{"Zero", `{"n":0}`, []string{"zero"}},
			{"NegativeZero", `{"n":-0}`, []string{"zero"}},
			{"Null", `{"n":null}`, []string{"null"}},
			{"NullNotMissing", `{"absent":null}`, nil},
			{"Two", `{"n":2}`, []string{"two", "mixed-case"}},
			{"Ten", `{"n":10}`, []string{"ten"}},
			{"NearOne", `{"n":1.0000000000000000000001}`, []string{"near-one"}},
			{"BigInt", `{"n":12345678901234567890}`, []string{"big"}},
			{"BigIntNext", `{"n":12345678901234567891}`, []string{"big-next"}},
			{"BigIntAsDecimal", `{"n":12345678901234567890.000}`, []string{"big"}},
			{"NoMatch", `{"n":3}`, nil},
			{"NoMatchString", `{"n":"x"}`, nil},
			{"OtherKey", `{"m":1}`, []string{"missing"}},
			{"And", `{"n":1,"s":"x"}`, []string{"both-x"}},
			{"AndReordered", `{"s":"y","n":1.0}`, []string{"both-y"}},
			{"AndNoMatch", `{"n":2,"s":"x"}`, nil},
			{"KeyCaseAndDash", `{"Upper-Key":"v"}`, []string{"mixed-case"}},
			{"KeyUnderscore", `{"_k":"1"}`, []string{"mixed-case"}},
			{"KeyWrongCase", `{"upper-key":"v"}`, nil},
			{"Empty", `{}`, all},
			{"Whitespace", " {\n\t\"n\" : 2 } ", []string{"two", "mixed-case"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				recs := mustList(t, s.Query(t.Context(), json.RawMessage(tt.filter), nil))
				wantIDs(t, recs, tt.want...)
				for _, rec := range recs {
					wantRecord(t, rec, mustGet(t, s, rec.ID))
				}
			})
		}
	})

	t.Run("Paging", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		for _, r := range queryData {
			mustPut(t, s, r.id, r.data)
		}
		one := json.RawMessage(`{"n":1}`)
		for _, tt := range []struct {
			name string
			opts persist.ListOptions
			want []string
		}{
			{"Limit", persist.ListOptions{Limit: 2}, []string{"int", "float"}},
			{"After", persist.ListOptions{After: "float"}, []string{"exp", "frac-exp", "neg-exp", "both-x", "both-y"}},
			{"AfterAndLimit", persist.ListOptions{After: "float", Limit: 2}, []string{"exp", "frac-exp"}},
			// After may name a record the filter does not match: paging
			// resumes from its place in insertion order.
			{"AfterNonMatching", persist.ListOptions{After: "string"}, []string{"both-x", "both-y"}},
			{"AfterLast", persist.ListOptions{After: "both-y"}, nil},
			{"ByID", persist.ListOptions{Order: persist.ByID}, []string{"both-x", "both-y", "exp", "float", "frac-exp", "int", "neg-exp"}},
			{"ByIDAfter", persist.ListOptions{Order: persist.ByID, After: "f", Limit: 3}, []string{"float", "frac-exp", "int"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantIDs(t, mustList(t, s.Query(t.Context(), one, &tt.opts)), tt.want...)
			})
		}
		t.Run("ErrNotFound", func(t *testing.T) {
			recs, err := collect(t, s.Query(t.Context(), one, &persist.ListOptions{After: "nope"}))
			wantErr(t, err, persist.ErrNotFound)
			wantIDs(t, recs)
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			recs, err := collect(t, s.Query(t.Context(), one, &persist.ListOptions{Limit: -1}))
			wantErr(t, err, persist.ErrInvalid)
			wantIDs(t, recs)
		})
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		for _, r := range queryData {
			mustPut(t, s, r.id, r.data)
		}
		// The table an injected key would try to drop.
		x := mustStore(t, db, "x")
		victim := mustPut(t, x, "victim", `{"n":1}`)
		before := snapshot(t, s)
		tables := mustTables(t, db)
		for _, tt := range []struct{ name, filter string }{
			{"Array", `[]`},
			{"ArrayOfObject", `[{"n":1}]`},
			{"String", `"n"`},
			{"Number", `1`},
			{"Null", `null`},
			{"True", `true`},
			{"ArrayValue", `{"n":[1]}`},
			{"ObjectValue", `{"n":{"n":1}}`},
			{"Truncated", `{"n":`},
			{"UnquotedKey", `{n:1}`},
			{"TrailingGarbage", `{"n":1}x`},
			{"TwoObjects", `{}{}`},
			{"Empty", ``},
			{"SQLInjectionKey", `{"a\"; DROP TABLE x; --":1}`},
			{"SQLInjectionQuote", `{"n' OR '1'='1":1}`},
			{"DottedKey", `{"a.b":1}`},
			{"PathKey", `{"$.n":1}`},
			{"BracketKey", `{"n[0]":1}`},
			{"EmptyKey", `{"":1}`},
			{"DigitFirstKey", `{"1a":1}`},
			{"SpaceKey", `{"a b":1}`},
			{"DashFirstKey", `{"-a":1}`},
			{"NonASCIIKey", `{"ключ":1}`},
			{"LongKey", `{"` + strings.Repeat("k", 129) + `":1}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				recs, err := collect(t, s.Query(t.Context(), json.RawMessage(tt.filter), nil))
				wantErr(t, err, persist.ErrInvalid)
				if len(recs) != 0 {
					t.Errorf("yielded %q before the error, want nothing", idsOf(recs))
				}
			})
		}
		wantUnchanged(t, s, before)
		wantRecord(t, mustGet(t, x, "victim"), victim)
		if got := mustTables(t, db); !slices.Equal(got, tables) {
			t.Errorf("Tables()=%q, want %q", got, tables)
		}
	})
}
