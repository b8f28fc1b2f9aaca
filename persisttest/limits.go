package persisttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// limitNumbers are numbers on both sides of PostgreSQL numeric's bounds,
// which persist states as its own (see the Data field of persist.Record):
// accepted ones must be stored and found by Query on every backend,
// refused ones refused with ErrInvalid by every backend, so that nothing
// stored by one backend is refused by another. The verdicts are
// PostgreSQL 15's.
var limitNumbers = []struct {
	name, num string
	ok        bool
}{
	{"ZeroMaxExponent", "0e1073741822", true},
	{"ZeroMaxExponentSpelledOut", "-0.00E+01073741822", true},
	{"ZeroExponentPastMax", "0e1073741823", false},
	{"ZeroNegativeExponentPastMax", "0e-1073741823", false},
	{"ZeroHugeExponent", "0e99999999999999999999", false},
	{"ZeroMaxScale", "0e-16383", true},
	{"ZeroScalePastMax", "0e-16384", false},
	{"ZeroFractionScalePastMax", "0.0e-16383", false},
	{"ZeroHugeNegativeExponent", "0e-1073741822", false},
	{"MaxIntegerDigits", "1e131071", true},
	{"MaxIntegerDigitsTwoWritten", "10e131070", true},
	{"IntegerDigitsPastMax", "1e131072", false},
	{"NegativeIntegerDigitsPastMax", "-99e131071", false},
	{"MaxScale", "1e-16383", true},
	{"MaxScaleWritten", "1.5e-16382", true},
	{"ScalePastMax", "1e-16384", false},
	{"TrailingZeroScalePastMax", "1.50e-16382", false},
	{"MaxIntegerDigitsPlain", strings.Repeat("9", 131072), true},
	{"IntegerDigitsPastMaxPlain", strings.Repeat("9", 131073), false},
	{"MaxScalePlain", "0." + strings.Repeat("0", 16382) + "1", true},
	{"ScalePastMaxPlain", "0." + strings.Repeat("0", 16384), false},
	{"MaxBoth", strings.Repeat("9", 131072) + "." + strings.Repeat("9", 16383), true},
}

// zeroSpellings are fifteen more spellings of zero with the exponent one
// past the bound, every one refused.
func zeroSpellings() []string {
	var out []string
	for _, m := range []string{"0", "-0", "0.0", "-0.00"} {
		for _, e := range []string{"e", "E", "e+", "E+"} {
			if s := m + e + "1073741823"; s != "0e1073741823" {
				out = append(out, s)
			}
		}
	}
	return out
}

// nested returns a document whose deepest value is depth levels down, the
// document itself being level 1.
func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// manyKeysDoc returns an object with n distinct top-level keys, then,
// with dup, the first key again.
func manyKeysDoc(n int, dup bool) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%06d":%d`, i, i)
	}
	if dup {
		b.WriteString(`,"k000000":"last"`)
	}
	b.WriteByte('}')
	return b.String()
}

// testLimits checks both sides of every limit persist states for
// documents, filters and table names, through every operation that takes
// them.
func testLimits(t *testing.T, open openFunc) {
	t.Run("KeptTimes", func(t *testing.T) {
		// InsertMany keeps Created and Updated: the years 1 to 9999, which
		// every backend stores exactly, and nothing outside them.
		_, s := openStore(t, open, "times")
		first := time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)
		last := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		for i, tt := range []struct {
			at time.Time
			ok bool
		}{
			{first, true},
			{last, true},
			{first.Add(-2 * time.Microsecond), false},
			{last.Add(time.Microsecond), false},
			{time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC), false},
			{time.Date(-4714, 1, 1, 0, 0, 0, 0, time.UTC), false},
		} {
			for _, field := range []string{"Created", "Updated"} {
				id := fmt.Sprintf("t%d-%s", i, field)
				rec := persist.Record{ID: id, Data: json.RawMessage(`{}`), Revision: 3}
				if field == "Created" {
					rec.Created = tt.at
				} else {
					rec.Updated = tt.at
				}
				res, err := s.InsertMany(t.Context(), []persist.Record{rec})
				if !tt.ok {
					wantErr(t, err, persist.ErrInvalid)
					wantMissing(t, s, id)
					continue
				}
				if err != nil || res.Inserted != 1 {
					t.Errorf("InsertMany with %s %v=%+v, %v", field, tt.at, res, err)
					continue
				}
				got := mustGet(t, s, id)
				kept := got.Created
				if field == "Updated" {
					kept = got.Updated
				}
				if !kept.Equal(tt.at) {
					t.Errorf("%s=%v, want %v kept", field, kept, tt.at)
				}
			}
		}
	})
	t.Run("Number", func(t *testing.T) {
		_, s := openStore(t, open, "numbers")
		cases := limitNumbers
		for i, z := range zeroSpellings() {
			cases = append(cases, struct {
				name, num string
				ok        bool
			}{fmt.Sprintf("ZeroExponentPastMax%d", i+2), z, false})
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				// Equal numbers of other cases must not match the query.
				doc := `{"n":` + tt.num + `,"case":"` + tt.name + `"}`
				if tt.ok {
					wantStored(t, s, tt.name, doc)
					wantIDs(t, mustList(t, s.Query(t.Context(), json.RawMessage(doc), nil)), tt.name)
					return
				}
				wantRefused(t, s, doc)
				_, err := collect(t, s.Query(t.Context(), json.RawMessage(doc), nil))
				if !errors.Is(err, persist.ErrInvalid) {
					t.Errorf("Query(%.60s): err %v, want %v", doc, err, persist.ErrInvalid)
				}
			})
		}
	})

	t.Run("Depth", func(t *testing.T) {
		_, s := openStore(t, open, "depth")
		wantStored(t, s, "max", nested(1000))
		wantRefused(t, s, nested(1001))
		// The patch is checked as a document; the merged result nests no
		// deeper than it.
		if _, err := s.Update(t.Context(), persist.Record{ID: "max", Data: json.RawMessage(nested(1000))}); err != nil {
			t.Errorf("Update with a patch 1000 levels deep: %v", err)
		}
	})

	t.Run("Keys", func(t *testing.T) {
		_, s := openStore(t, open, "keys")
		doc := manyKeysDoc(2000, false)
		wantStored(t, s, "many", doc)
		// A repeated key resolves last-wins at its first place, on every
		// backend, however many keys there are.
		rec, err := s.Put(t.Context(), persist.Record{ID: "dup", Data: json.RawMessage(manyKeysDoc(2000, true))})
		if err != nil {
			t.Fatalf("Put with a repeated key: %v", err)
		}
		want := strings.Replace(doc, `"k000000":0`, `"k000000":"last"`, 1)
		wantData(t, rec.Data, want)
		wantData(t, mustGet(t, s, "dup").Data, want)
		wantIDs(t, mustList(t, s.Query(t.Context(), json.RawMessage(`{"k000000":"last"}`), nil)), "dup")
		rec, err = s.Update(t.Context(), persist.Record{ID: "many", Data: json.RawMessage(manyKeysDoc(3000, true))})
		if err != nil {
			t.Fatalf("Update with 3000 keys: %v", err)
		}
		wantData(t, rec.Data, strings.Replace(manyKeysDoc(3000, false), `"k000000":0`, `"k000000":"last"`, 1))
	})

	t.Run("String", func(t *testing.T) {
		_, s := openStore(t, open, "strings")
		for i, doc := range []string{
			`{"s":"\\u0000"}`, // an escaped backslash, then text
			`{"s":"\u0001\u001f\u007f"}`,
			`{"s":"\ud800\udc00\udbff\udfff"}`, // the first and last pair
			`{"s":"\uffff\ufffe\ufeff"}`,
			`{"\ud83d\ude00":"` + strings.Repeat("x", 64<<10) + `"}`,
		} {
			wantStored(t, s, fmt.Sprint(i), doc)
		}
		for _, doc := range []string{`{"s":"\u0000"}`, `{"s":"\udbff"}`, `{"s":"\udfff"}`, `{"s":"\ud800\ud800"}`} {
			wantRefused(t, s, doc)
		}
	})

	t.Run("FilterKey", func(t *testing.T) {
		_, s := openStore(t, open, "filterkeys")
		key := "K" + strings.Repeat("k", 127)
		doc := `{"` + key + `":1}`
		wantStored(t, s, "a", doc)
		wantIDs(t, mustList(t, s.Query(t.Context(), json.RawMessage(doc), nil)), "a")
		_, err := collect(t, s.Query(t.Context(), json.RawMessage(`{"`+key+`k":1}`), nil))
		if !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("Query with a 129-byte key: err %v, want %v", err, persist.ErrInvalid)
		}
	})

	t.Run("TableName", func(t *testing.T) {
		db := open(t)
		// Two 63-byte names that share 62 bytes, and a pair that shares 51
		// bytes and a 32-bit FNV-1a hash (a backend that derives object
		// names by cutting and hashing must still keep them apart).
		x := strings.Repeat("x", 62)
		collide := "collide_" + strings.Repeat("x", 43)
		names := []string{x + "a", x + "b", collide + "000000326246", collide + "000001467780"}
		for _, name := range names {
			s := mustStore(t, db, name)
			mustPut(t, s, "1", `{"t":"`+name+`"}`)
			if _, err := s.InsertMany(t.Context(), []persist.Record{{ID: "2", Data: json.RawMessage(`{"t":"` + name + `"}`)}}); err != nil {
				t.Fatalf("InsertMany into %s: %v", name, err)
			}
		}
		for _, name := range names {
			s := mustStore(t, db, name)
			wantIDs(t, mustList(t, s.Query(t.Context(), json.RawMessage(`{"t":"`+name+`"}`), nil)), "1", "2")
		}
		for _, name := range []string{x + "ab", collide + "0000003262460"} {
			_, err := db.Store(name)
			wantOp(t, err, persist.ErrInvalid, "store")
			err = db.Tx(t.Context(), func(tx persist.Tx) error {
				_, err := tx.Store(name)
				return err
			})
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("tx.Store of a 64-byte name: err %v, want %v", err, persist.ErrInvalid)
			}
		}
	})
}

// wantStored checks that every write operation accepts doc and that it
// reads back as the same JSON value.
func wantStored(tb testing.TB, s persist.Store, id, doc string) {
	tb.Helper()
	ctx := tb.Context()
	rec, err := s.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(doc)})
	if err != nil {
		tb.Fatalf("Put(%.60s): %v", doc, err)
	}
	wantData(tb, rec.Data, doc)
	wantData(tb, mustGet(tb, s, id).Data, doc)
	if _, err := s.Update(ctx, persist.Record{ID: id, Data: json.RawMessage(doc)}); err != nil {
		tb.Errorf("Update(%.60s): %v", doc, err)
	}
	if _, err := s.Insert(ctx, persist.Record{ID: id + "/insert", Data: json.RawMessage(doc)}); err != nil {
		tb.Errorf("Insert(%.60s): %v", doc, err)
	}
	if _, err := s.InsertMany(ctx, []persist.Record{{ID: id + "/many", Data: json.RawMessage(doc)}}); err != nil {
		tb.Errorf("InsertMany(%.60s): %v", doc, err)
	}
	for _, other := range []string{id + "/insert", id + "/many"} {
		if _, err := s.Delete(ctx, other); err != nil {
			tb.Fatal(err)
		}
	}
}

// wantRefused checks that every write operation refuses doc with
// ErrInvalid and writes nothing.
func wantRefused(tb testing.TB, s persist.Store, doc string) {
	tb.Helper()
	ctx := tb.Context()
	mustPut(tb, s, "victim", `{"v":1}`)
	before := snapshot(tb, s)
	data := json.RawMessage(doc)
	check := func(op string, err error) {
		tb.Helper()
		if !errors.Is(err, persist.ErrInvalid) {
			tb.Errorf("%s(%.60s): err %v, want %v", op, bytes.TrimSpace(data), err, persist.ErrInvalid)
		}
	}
	_, err := s.Put(ctx, persist.Record{ID: "bad", Data: data})
	check("Put", err)
	_, err = s.Insert(ctx, persist.Record{ID: "bad", Data: data})
	check("Insert", err)
	_, err = s.Update(ctx, persist.Record{ID: "victim", Data: data})
	check("Update", err)
	_, err = s.UpdateFunc(ctx, "victim", func(persist.Record) (json.RawMessage, error) { return data, nil })
	check("UpdateFunc", err)
	_, err = s.InsertMany(ctx, []persist.Record{{ID: "bad", Data: data}})
	check("InsertMany", err)
	check("ReplaceAll", s.ReplaceAll(ctx, []persist.Record{{ID: "bad", Data: data}}))
	wantUnchanged(tb, s, before)
}
