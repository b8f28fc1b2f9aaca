package persisttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

// badTables are table names every backend must refuse: they would not be
// portable, would collide with the database's or persist's own tables, or
// try to break out of the quoted identifier.
var badTables = []struct{ name, table string }{
	{"SQLInjection", `x"; DROP TABLE y; --`},
	{"SQLInjectionQuote", `y'; DROP TABLE y; --`},
	{"Empty", ""},
	{"UpperCase", "Users"},
	{"LeadingDigit", "1abc"},
	{"TooLong", strings.Repeat("a", 64)},
	{"SQLiteMaster", "sqlite_master"},
	{"SQLitePrefix", "sqlite_x"},
	{"PostgresPrefix", "pg_class"},
	{"PersistMeta", "persist_meta"},
	{"Dash", "a-b"},
	{"Space", "a b"},
	{"Dot", "main.y"},
	{"NonASCII", "tablé"},
	{"NUL", "y\x00"},
}

// goodTables are awkward names that are valid: boundaries and SQL keywords,
// which only work if the backend quotes identifiers.
var goodTables = []string{"_", strings.Repeat("a", 63), "a1_b2", "select", "order", "user", "table", "sqlite", "pg", "persist"}

// badIDs are record ids every backend must refuse: what PostgreSQL cannot
// store (U+0000, invalid UTF-8) and what is longer than persist's bound.
var badIDs = []struct{ name, id string }{
	{"TooLong", strings.Repeat("a", 2049)},
	{"TooLongMultibyte", strings.Repeat("é", 1024) + "a"},
	{"TooLongIncompressible", incompressible(2049)},
	{"TenKB", strings.Repeat("x", 10<<10)},
	{"NUL", "a\x00b"},
	{"OnlyNUL", "\x00"},
	{"InvalidUTF8", "\xff\xfe"},
	{"OverlongUTF8", "a\xc0\xafb"},
	{"EncodedSurrogate", "\xed\xa0\x80"},
}

// goodIDs are awkward ids that are valid: ids are checked for what a
// backend cannot store, not for style, since the earlier portal's writers
// may have stored any of these. The empty id, also valid, is covered
// where the operation does not generate one (see TestSharedTables).
var goodIDs = []string{
	strings.Repeat("a", 2048),
	strings.Repeat("é", 1024),
	incompressible(2048),
	"a/b c",
	`x'; DROP TABLE y; --`,
	`x"; DROP TABLE y; --`,
	"ключ",
	"😀",
	"%_?$1*",
	" ",
	`\`,
	"a\nb",
	"\t",
	"\r",
	"a\x7fb",
	"a\u0085b",
}

// incompressible returns n printable bytes that do not compress, so that a
// backend that compresses long index entries cannot make an over-long id
// fit.
func incompressible(n int) string {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte('!' + x%94)
	}
	return string(b)
}

// badData are documents every backend must refuse.
var badData = []struct{ name, data string }{
	{"Nil", "\x00nil"}, // stands for a nil json.RawMessage
	{"Empty", ""},
	{"Blank", " \n"},
	{"Array", `[]`},
	{"ArrayOfObject", `[{"a":1}]`},
	{"String", `"s"`},
	{"Number", `1`},
	{"Null", `null`},
	{"True", `true`},
	{"Truncated", `{"a":1`},
	{"MissingValue", `{"a":}`},
	{"TrailingGarbage", `{"a":1}x`},
	{"TwoObjects", `{}{}`},
	{"SingleQuotes", `{'a':1}`},
	{"NaN", `{"a":NaN}`},
	{"TrailingComma", `{"a":1,}`},
	{"EscapedNUL", `{"a":"x\u0000y"}`},
	{"EscapedNULInKey", `{"a\u0000":1}`},
	{"EscapedNULNested", `{"a":[{"b":"\u0000"}]}`},
	{"RawNUL", "{\"a\":\"x\x00y\"}"},
	{"LoneHighSurrogate", `{"a":"\ud800"}`},
	{"LoneLowSurrogate", `{"a":"\udc00x"}`},
	{"ReversedSurrogates", `{"a":"\udc00\ud800"}`},
	{"InvalidUTF8", "{\"a\":\"\xff\"}"},
	{"OverlongUTF8", "{\"a\":\"\xc0\xaf\"}"},
	{"EncodedSurrogate", "{\"a\":\"\xed\xa0\x80\"}"},
	{"RawControl", "{\"a\":\"x\ny\"}"},
}

func dataOf(s string) json.RawMessage {
	if s == "\x00nil" {
		return nil
	}
	return json.RawMessage(s)
}

func testInvalid(t *testing.T, open openFunc) {
	t.Run("TableName", func(t *testing.T) {
		db, y := openStore(t, open, "y")
		victim := mustPut(t, y, "victim", `{"keep":true}`)
		for _, tt := range badTables {
			t.Run(tt.name, func(t *testing.T) {
				s, err := db.Store(tt.table)
				wantOp(t, err, persist.ErrInvalid, "store")
				if s != nil {
					t.Errorf("Store(%q) returned a Store with the error", tt.table)
				}
			})
		}
		t.Run("Tx", func(t *testing.T) {
			var failures []string
			err := db.Tx(t.Context(), func(tx persist.Tx) error {
				failures = failures[:0] // fn may run again
				for _, tt := range badTables {
					if _, err := tx.Store(tt.table); !errors.Is(err, persist.ErrInvalid) {
						failures = append(failures, fmt.Sprintf("tx.Store(%q): err %v, want %v", tt.table, err, persist.ErrInvalid))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Tx: %v", err)
			}
			for _, f := range failures {
				t.Error(f)
			}
		})
		if names := mustTables(t, db); !slices.Equal(names, []string{"y"}) {
			t.Errorf("Tables()=%q, want [y]", names)
		}
		wantRecord(t, mustGet(t, y, "victim"), victim)
		wantCount(t, y, 1)
	})

	t.Run("TableNameOK", func(t *testing.T) {
		db := open(t)
		for _, name := range goodTables {
			s := mustStore(t, db, name)
			if got := s.Name(); got != name {
				t.Errorf("Name()=%q, want %q", got, name)
			}
			data := fmt.Sprintf(`{"table":%q}`, name)
			rec := mustPut(t, s, "k", data)
			wantRecord(t, mustGet(t, s, "k"), rec)
			wantIDs(t, mustList(t, s.Query(t.Context(), json.RawMessage(data), nil)), "k")
			wantCount(t, s, 1)
		}
		want := slices.Sorted(slices.Values(goodTables))
		if names := mustTables(t, db); !slices.Equal(names, want) {
			t.Errorf("Tables()=%q, want %q", names, want)
		}
	})

	t.Run("ID", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		before := snapshot(t, s)
		for _, tt := range badIDs {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				id := tt.id
				data := json.RawMessage(`{"v":"bad id"}`)
				check := func(method string, err error) {
					t.Helper()
					if !errors.Is(err, persist.ErrInvalid) {
						t.Errorf("%s: err %v, want %v", method, err, persist.ErrInvalid)
					}
				}
				_, err := s.Get(ctx, id)
				check("Get", err)
				_, err = s.Update(ctx, persist.Record{ID: id, Data: data})
				check("Update", err)
				_, err = s.UpdateFunc(ctx, id, func(persist.Record) (json.RawMessage, error) {
					t.Error("UpdateFunc called fn for an invalid id")
					return data, nil
				})
				check("UpdateFunc", err)
				_, err = s.Delete(ctx, id)
				check("Delete", err)
				_, err = s.InsertMany(ctx, []persist.Record{{ID: "good", Data: data}, {ID: id, Data: data}})
				check("InsertMany", err)
				_, err = s.Put(ctx, persist.Record{ID: id, Data: data})
				check("Put", err)
				_, err = s.Insert(ctx, persist.Record{ID: id, Data: data})
				check("Insert", err)
				err = s.ReplaceAll(ctx, []persist.Record{{ID: "good", Data: data}, {ID: id, Data: data}})
				check("ReplaceAll", err)
				wantUnchanged(t, s, before)
			})
		}
	})

	t.Run("IDOK", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		for i, id := range goodIDs {
			rec := mustPut(t, s, id, fmt.Sprintf(`{"i":%d}`, i))
			if rec.ID != id {
				t.Errorf("Put: ID=%q, want %q", rec.ID, id)
			}
			wantRecord(t, mustGet(t, s, id), rec)
		}
		recs := mustList(t, s.List(t.Context(), nil))
		wantIDs(t, recs, goodIDs...)
		// Each id also works as a paging cursor.
		for i, id := range goodIDs {
			page := mustList(t, s.List(t.Context(), &persist.ListOptions{After: id, Limit: 1}))
			if i+1 < len(goodIDs) {
				wantIDs(t, page, goodIDs[i+1])
			} else {
				wantIDs(t, page)
			}
		}
		for _, id := range goodIDs {
			if ok, err := s.Delete(t.Context(), id); err != nil || !ok {
				t.Errorf("Delete(%.20q)=%v, %v; want true", id, ok, err)
			}
		}
		wantCount(t, s, 0)
	})

	t.Run("Data", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		before := snapshot(t, s)
		good := json.RawMessage(`{"v":"good"}`)
		for _, tt := range badData {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				bad := dataOf(tt.data)
				_, err := s.Put(ctx, persist.Record{ID: "new", Data: bad})
				wantOpErr(t, err, persist.ErrInvalid, "put", "items", "new")
				_, err = s.Put(ctx, persist.Record{ID: "a", Data: bad})
				wantOpErr(t, err, persist.ErrInvalid, "put", "items", "a")
				_, err = s.Insert(ctx, persist.Record{ID: "new", Data: bad})
				wantOpErr(t, err, persist.ErrInvalid, "insert", "items", "new")
				_, err = s.Update(ctx, persist.Record{ID: "a", Data: bad})
				wantOpErr(t, err, persist.ErrInvalid, "update", "items", "a")
				_, err = s.UpdateFunc(ctx, "a", func(persist.Record) (json.RawMessage, error) { return bad, nil })
				wantOpErr(t, err, persist.ErrInvalid, "update_func", "items", "a")
				_, err = s.InsertMany(ctx, []persist.Record{{ID: "new2", Data: good}, {ID: "new", Data: bad}})
				wantOp(t, err, persist.ErrInvalid, "insert_many")
				err = s.ReplaceAll(ctx, []persist.Record{{ID: "new2", Data: good}, {ID: "new", Data: bad}})
				wantOp(t, err, persist.ErrInvalid, "replace_all")
				wantUnchanged(t, s, before)
			})
		}
	})

	t.Run("Grid", func(t *testing.T) { testBadInput(t, open) })
}

// wantOp checks that err matches target and is a *persist.Error for op.
func wantOp(tb testing.TB, err, target error, op string) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("err=%v, want one matching %v", err, target)
		return
	}
	var pe *persist.Error
	if !errors.As(err, &pe) {
		tb.Errorf("err=%v (%T), want a *persist.Error", err, err)
	} else if pe.Op != op {
		tb.Errorf("Error.Op=%q, want %q (err %v)", pe.Op, op, err)
	}
}
