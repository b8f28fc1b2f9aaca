package persisttest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/query"
)

// findData is the table the fixed Find cases run against, in insertion
// order.
var findData = []struct{ id, data string }{
	{"int", `{"n":1}`},
	{"float", `{"n":1.0}`},
	{"frac", `{"n":1.10}`},
	{"big", `{"n":12345678901234567890}`},
	{"big-next", `{"n":12345678901234567891}`},
	{"neg", `{"n":-2.5}`},
	{"str-1", `{"n":"1"}`},
	{"true", `{"n":true}`},
	{"false", `{"n":false}`},
	{"null", `{"n":null}`},
	{"missing", `{"m":1}`},
	{"arr", `{"n":[1,2]}`},
	{"arr-float", `{"n":[1.0,2]}`},
	{"arr-other", `{"n":[2,1]}`},
	{"obj", `{"n":{"a":1,"b":2}}`},
	{"obj-reordered", `{"n":{"b":2,"a":1.0}}`},
	{"obj-more", `{"n":{"a":1,"b":2,"c":3}}`},
	{"nested", `{"cfg":{"format":"csv","level":3}}`},
	{"nested-other", `{"cfg":{"format":"json"}}`},
	{"nested-scalar", `{"cfg":"csv"}`},
	{"e-acute", `{"n":"é"}`},
	{"lower-z", `{"n":"z"}`},
	{"upper-z", `{"n":"Z"}`},
	{"emoji", `{"n":"😀"}`},
	{"ffee", `{"n":"\uffee"}`},
	{"empty-str", `{"n":""}`},
}

func testFind(t *testing.T, open openFunc) {
	t.Run("Semantics", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		for _, r := range findData {
			mustPut(t, s, r.id, r.data)
		}
		numbers := []string{"int", "float", "frac", "big", "big-next", "neg"}
		strs := []string{"str-1", "e-acute", "lower-z", "upper-z", "emoji", "ffee", "empty-str"}
		noN := []string{"missing", "nested", "nested-other", "nested-scalar"}
		except := func(drop ...string) []string {
			var out []string
			for _, r := range findData {
				if !slices.Contains(drop, r.id) {
					out = append(out, r.id)
				}
			}
			return out
		}
		for _, tt := range []struct {
			name string
			q    persist.Query
			want []string
		}{
			{"EqInt", persist.Where("n", "==", 1), []string{"int", "float"}},
			{"EqFloat", persist.Where("n", "==", json.RawMessage(`1.0`)), []string{"int", "float"}},
			{"EqFractionExact", persist.Where("n", "==", json.RawMessage(`1.1`)), []string{"frac"}},
			{"EqBig", persist.Where("n", "==", json.RawMessage(`12345678901234567890.0`)), []string{"big"}},
			{"GtBig", persist.Where("n", ">", json.RawMessage(`12345678901234567890`)), []string{"big-next"}},
			{"LtBigNext", persist.Where("n", "<", json.RawMessage(`12345678901234567891`)), []string{"int", "float", "frac", "big", "neg"}},
			{"GeOne", persist.Where("n", ">=", 1), []string{"int", "float", "frac", "big", "big-next"}},
			{"RangeOnlyNumbers", persist.Where("n", ">", -1000), []string{"int", "float", "frac", "big", "big-next", "neg"}},
			{"RangeOnlyStrings", persist.Where("n", ">=", ""), strs},
			{"StringByCodePoint", persist.Where("n", ">", "z"), []string{"e-acute", "emoji", "ffee"}},
			{"UpperBeforeLower", persist.Where("n", "<", "a"), []string{"str-1", "upper-z", "empty-str"}},
			{"EqString", persist.Where("n", "==", "1"), []string{"str-1"}},
			{"EqTrue", persist.Where("n", "==", true), []string{"true"}},
			{"EqNull", persist.Where("n", "==", nil), []string{"null"}},
			{"EqArrayWhole", persist.Where("n", "==", []any{1, 2}), []string{"arr", "arr-float"}},
			{"EqArrayNotContains", persist.Where("n", "==", []any{1}), nil},
			{"EqObjectWhole", persist.Where("n", "==", map[string]any{"a": 1, "b": 2}), []string{"obj", "obj-reordered"}},
			{"NeIncludesMissingAndOtherTypes", persist.Where("n", "!=", 1), except("int", "float")},
			{"In", persist.Where("n", "in", []any{1, "1", true, []any{2, 1}}), []string{"int", "float", "str-1", "true", "arr-other"}},
			{"InEmpty", persist.Where("n", "in", []any{}), nil},
			{"NotIn", persist.Where("n", "not-in", []any{1, "1"}), except("int", "float", "str-1")},
			{"NotInEmpty", persist.Where("n", "not-in", []any{}), except()},
			{"Exists", persist.Where("n", "exists", nil), except(noN...)},
			{"Missing", persist.Where("n", "missing", nil), noN},
			{"NullIsNotMissing", persist.Where("n", "missing", nil).Where("n", "==", json.RawMessage(`null`)), nil},
			{"Nested", persist.Where("cfg.format", "==", "csv"), []string{"nested"}},
			{"NestedRange", persist.Where("cfg.level", ">=", 3), []string{"nested"}},
			{"NestedThroughScalar", persist.Where("cfg.format", "exists", nil), []string{"nested", "nested-other"}},
			{"And", persist.Where("n", ">=", 1).Where("n", "<", 2), []string{"int", "float", "frac"}},
			{"AndNone", persist.Where("n", "==", 1).Where("n", "==", "1"), nil},
			{"Numbers", persist.Where("n", ">", json.RawMessage(`-1e400`)), numbers},
			{"Empty", persist.Query{}, except()},
			// The documented total order: missing < null < false < true <
			// numbers < strings < arrays < objects, ties by insertion.
			{"OrderAsc", persist.Where("n", "!=", "x").OrderBy("n", persist.Asc), []string{
				"missing", "nested", "nested-other", "nested-scalar", "null", "false", "true",
				"neg", "int", "float", "frac", "big", "big-next",
				"empty-str", "str-1", "upper-z", "lower-z", "e-acute", "ffee", "emoji",
				"arr", "arr-float", "arr-other", "obj", "obj-reordered", "obj-more"}},
			{"OrderDescTiesNewestFirst", persist.Where("n", "<=", 1).OrderBy("n", persist.Desc), []string{"float", "int", "neg"}},
			{"NewestFirst", persist.Where("n", "==", 1).OrderBy(persist.Inserted, persist.Desc), []string{"float", "int"}},
			{"TwoKeys", persist.Where("cfg", "exists", nil).OrderBy("cfg.level", persist.Desc).OrderBy("cfg.format", persist.Asc),
				[]string{"nested", "nested-scalar", "nested-other"}},
			{"Limit", persist.Where("n", "exists", nil).OrderBy("n", persist.Desc).Limit(2), []string{"obj-more", "obj-reordered"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				recs := mustList(t, s.Find(t.Context(), tt.q))
				if !strings.HasPrefix(tt.name, "Order") && tt.name != "TwoKeys" && tt.name != "Limit" && !strings.Contains(tt.name, "First") {
					slices.SortFunc(recs, func(a, b persist.Record) int { return strings.Compare(a.ID, b.ID) })
					want := slices.Clone(tt.want)
					slices.Sort(want)
					wantIDs(t, recs, want...)
				} else {
					wantIDs(t, recs, tt.want...)
				}
				for _, rec := range recs {
					wantRecord(t, rec, mustGet(t, s, rec.ID))
				}
				n, err := s.CountWhere(t.Context(), tt.q)
				if err != nil {
					t.Fatalf("CountWhere: %v", err)
				}
				if want := int64(len(mustList(t, s.Find(t.Context(), tt.q.Limit(0))))); n != want {
					t.Errorf("CountWhere()=%d, want %d", n, want)
				}
			})
		}
	})

	t.Run("Paging", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		for _, r := range findData {
			mustPut(t, s, r.id, r.data)
		}
		q := persist.Where("n", "exists", nil).OrderBy("n", persist.Desc).Limit(4)
		all := idsOf(mustList(t, s.Find(t.Context(), q.Limit(0))))
		var got []string
		cursor := ""
		for range 100 {
			p, err := s.FindPage(t.Context(), q.After(cursor))
			if err != nil {
				t.Fatalf("FindPage: %v", err)
			}
			got = append(got, idsOf(p.Records)...)
			if p.Next == "" {
				break
			}
			if len(p.Records) != 4 {
				t.Fatalf("page of %d records with a next cursor, want 4", len(p.Records))
			}
			cursor = p.Next
		}
		if !slices.Equal(got, all) {
			t.Errorf("pages=%q, want %q", got, all)
		}
		t.Run("FindAfterCursor", func(t *testing.T) {
			p, err := s.FindPage(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, mustList(t, s.Find(t.Context(), q.Limit(0).After(p.Next))), all[4:]...)
		})
		t.Run("DefaultPage", func(t *testing.T) {
			p, err := s.FindPage(t.Context(), persist.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != len(findData) || p.Next != "" {
				t.Errorf("FindPage(Query{}) = %d records, next %q; want %d, none", len(p.Records), p.Next, len(findData))
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			p, err := s.FindPage(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range []persist.Query{
				persist.Where("n", "exists", nil).OrderBy("n", persist.Asc),
				persist.Where("n", "missing", nil).OrderBy("n", persist.Desc),
				persist.OrderBy("n", persist.Desc),
				q.Where("m", "==", 1),
			} {
				_, err := s.FindPage(t.Context(), other.After(p.Next))
				wantErr(t, err, persist.ErrInvalid)
				_, err = collect(t, s.Find(t.Context(), other.After(p.Next)))
				wantErr(t, err, persist.ErrInvalid)
			}
			for _, bad := range []string{"x", p.Next[:len(p.Next)-2], strings.Repeat("A", 70000)} {
				_, err := s.FindPage(t.Context(), q.After(bad))
				wantErr(t, err, persist.ErrInvalid)
			}
		})
	})

	t.Run("Limits", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"a":1}`)
		deep := strings.TrimSuffix(strings.Repeat("a.", query.MaxDepth), ".")
		conds := func(n int) persist.Query {
			q := persist.Query{}
			for range n {
				q = q.Where("a", "==", 1)
			}
			return q
		}
		sorts := func(n int) persist.Query {
			q := persist.Query{}
			for range n {
				q = q.OrderBy("a", persist.Asc)
			}
			return q
		}
		for _, tt := range []struct {
			name string
			q    persist.Query
			ok   bool
		}{
			{"Depth16", persist.Where(deep, "exists", nil), true},
			{"Depth17", persist.Where(deep+".a", "exists", nil), false},
			{"Key128", persist.Where(strings.Repeat("k", 128), "exists", nil), true},
			{"Key129", persist.Where(strings.Repeat("k", 129), "exists", nil), false},
			{"Conditions32", conds(query.MaxConditions), true},
			{"Conditions33", conds(query.MaxConditions + 1), false},
			{"In100", persist.Where("a", "in", make([]int, query.MaxIn)), true},
			{"In101", persist.Where("a", "in", make([]int, query.MaxIn+1)), false},
			{"Sorts8", sorts(query.MaxSorts), true},
			{"Sorts9", sorts(query.MaxSorts + 1), false},
			{"Value4096", persist.Where("a", "==", strings.Repeat("x", query.MaxValue-2)), true},
			{"Value4097", persist.Where("a", "==", strings.Repeat("x", query.MaxValue-1)), false},
			{"NegativeLimit", persist.Query{}.Limit(-1), false},
			{"UnknownOp", persist.Where("a", "=", 1), false},
			{"RangeOnBool", persist.Where("a", "<", true), false},
			{"RangeOnArray", persist.Where("a", ">", []int{1}), false},
			{"ExistsWithValue", persist.Where("a", "exists", 1), false},
			{"EqNilIsNull", persist.Where("a", "==", nil), true},
			{"InNotArray", persist.Where("a", "in", 1), false},
			{"EmptyPath", persist.Where("", "exists", nil), false},
			{"ArrayIndexPath", persist.Where("a.0", "exists", nil), false},
			{"InjectionPath", persist.Where(`a'); DROP TABLE x; --`, "exists", nil), false},
			{"InsertedNotLast", persist.OrderBy(persist.Inserted, persist.Desc).OrderBy("a", persist.Asc), false},
			{"BadDirection", persist.OrderBy("a", 7), false},
			{"Unencodable", persist.Where("a", "==", make(chan int)), false},
			{"BadNumber", persist.Where("a", "==", json.RawMessage(`1e999999`)), false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				recs, err := collect(t, s.Find(t.Context(), tt.q))
				_, perr := s.FindPage(t.Context(), tt.q)
				_, cerr := s.CountWhere(t.Context(), tt.q)
				if tt.ok {
					if err != nil || perr != nil || cerr != nil {
						t.Fatalf("Find: %v, FindPage: %v, CountWhere: %v; want no error", err, perr, cerr)
					}
					return
				}
				wantErr(t, err, persist.ErrInvalid)
				wantErr(t, perr, persist.ErrInvalid)
				wantErr(t, cerr, persist.ErrInvalid)
				if len(recs) != 0 {
					t.Errorf("yielded %q before the error", idsOf(recs))
				}
			})
		}
		t.Run("Page1000", func(t *testing.T) {
			if _, err := s.FindPage(t.Context(), persist.Query{}.Limit(query.MaxPage)); err != nil {
				t.Errorf("FindPage(limit %d): %v", query.MaxPage, err)
			}
			_, err := s.FindPage(t.Context(), persist.Query{}.Limit(query.MaxPage+1))
			wantErr(t, err, persist.ErrInvalid)
		})
	})

	t.Run("Tx", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		for _, r := range findData[:6] {
			mustPut(t, s, r.id, r.data)
		}
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			ts, err := tx.Store("items")
			if err != nil {
				return err
			}
			if _, err := ts.Put(t.Context(), persist.Record{ID: "in-tx", Data: json.RawMessage(`{"n":1}`)}); err != nil {
				return err
			}
			// The loop body writes to the transaction between records.
			var ids []string
			for rec, err := range ts.Find(t.Context(), persist.Where("n", "==", 1).OrderBy(persist.Inserted, persist.Desc)) {
				if err != nil {
					return err
				}
				ids = append(ids, rec.ID)
				if _, err := ts.Put(t.Context(), persist.Record{ID: "w-" + rec.ID, Data: json.RawMessage(`{"w":1}`)}); err != nil {
					return err
				}
			}
			if !slices.Equal(ids, []string{"in-tx", "float", "int"}) {
				return fmt.Errorf("find in tx = %q", ids)
			}
			n, err := ts.CountWhere(t.Context(), persist.Where("w", "exists", nil))
			if err != nil || n != 3 {
				return fmt.Errorf("count in tx = %d, %v; want 3", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A Find that is the transaction's first statement.
		err = db.Tx(t.Context(), func(tx persist.Tx) error {
			ts, err := tx.Store("items")
			if err != nil {
				return err
			}
			recs, err := collect(t, ts.Find(t.Context(), persist.Where("n", "==", 1)))
			if err != nil {
				return err
			}
			if got := idsOf(recs); !slices.Equal(got, []string{"int", "float", "in-tx"}) {
				return fmt.Errorf("find first in tx = %q", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("WritesDuringFind", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		for i := range 600 {
			mustPut(t, s, fmt.Sprintf("r%03d", i), fmt.Sprintf(`{"i":%d}`, i))
		}
		n := 0
		for rec, err := range s.Find(t.Context(), persist.Where("i", ">=", 0).OrderBy("i", persist.Desc)) {
			if err != nil {
				t.Fatal(err)
			}
			if n%100 == 0 {
				mustPut(t, s, "w-"+rec.ID, `{"w":1}`)
			}
			n++
		}
		if n != 600 {
			t.Errorf("Find yielded %d records, want 600", n)
		}
		// Breaking out early releases what the iterator held.
		for range s.Find(t.Context(), persist.Query{}) {
			break
		}
		mustPut(t, s, "after", `{}`)
	})

	t.Run("Differential", func(t *testing.T) { testFindDifferential(t, open) })
}

// findCases is how many random queries the differential test runs per
// backend: 1000, or 200 with -short or under the race detector (whose
// runs check concurrency, not semantics; make fuzz runs 20,000 without
// it); PERSIST_FIND_CASES sets it.
func findCases() int {
	if n, err := strconv.Atoi(os.Getenv("PERSIST_FIND_CASES")); err == nil && n > 0 {
		return n
	}
	if testing.Short() || raceDetector {
		return 200
	}
	return 1000
}

var (
	findPaths  = []string{"a", "b", "o.x", "o", "z"}
	findValues = []string{
		"null", "true", "false", "0", "-0", "1", "1.0", "1e0", "1.10", "1.1", "-1", "-2.5", "2", "10", "100", "1e2",
		"12345678901234567890", "12345678901234567891", "1e21", "1e-7", "0.0000001", "-12345678901234567891",
		"3.14159265358979323846264338327950288", `""`, `"a"`, `"ab"`, `"b"`, `"B"`, `"é"`, `"😀"`, `"\uffee"`, `"Z"`,
		`[]`, `[1]`, `[1.0]`, `[1,2]`, `{}`, `{"k":1}`, `{"k":1.0}`, `{"x":1}`,
	}
)

func randFindValue(r *rand.Rand) string { return findValues[r.IntN(len(findValues))] }

func randFindDoc(r *rand.Rand) string {
	var parts []string
	for _, k := range []string{"a", "b"} {
		if r.IntN(5) > 0 {
			parts = append(parts, fmt.Sprintf("%q:%s", k, randFindValue(r)))
		}
	}
	switch r.IntN(4) {
	case 0:
	case 1:
		parts = append(parts, `"o":`+randFindValue(r))
	default:
		parts = append(parts, `"o":{"x":`+randFindValue(r)+`}`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func randFindQuery(r *rand.Rand) persist.Query {
	q := persist.Query{}
	ops := []string{"==", "!=", "<", "<=", ">", ">=", "in", "not-in", "exists", "missing"}
	for range r.IntN(3) {
		path, op := findPaths[r.IntN(len(findPaths))], ops[r.IntN(len(ops))]
		switch op {
		case "exists", "missing":
			q = q.Where(path, op, nil)
		case "in", "not-in":
			var vs []json.RawMessage
			for range r.IntN(4) {
				vs = append(vs, json.RawMessage(randFindValue(r)))
			}
			q = q.Where(path, op, vs)
		case "<", "<=", ">", ">=":
			v := randFindValue(r)
			for v[0] != '"' && v[0] != '-' && (v[0] < '0' || v[0] > '9') {
				v = randFindValue(r)
			}
			q = q.Where(path, op, json.RawMessage(v))
		default:
			q = q.Where(path, op, json.RawMessage(randFindValue(r)))
		}
	}
	for range r.IntN(3) {
		q = q.OrderBy(findPaths[r.IntN(len(findPaths))], persist.Direction(r.IntN(2)))
	}
	if r.IntN(3) == 0 {
		q = q.OrderBy(persist.Inserted, persist.Direction(r.IntN(2)))
	}
	if r.IntN(3) == 0 {
		q = q.Limit(1 + r.IntN(10))
	}
	return q
}

// model is what the differential test knows a table holds: each record's
// data and insertion position, which orders like the backend's.
type model struct {
	docs map[string]query.Doc
	next int64
}

func (m *model) put(id, data string) {
	d, ok := m.docs[id]
	if !ok {
		m.next++
		d = query.Doc{ID: id, Seq: m.next}
	}
	d.Data = []byte(data)
	m.docs[id] = d
}

func (m *model) eval(tb testing.TB, q persist.Query) []string {
	tb.Helper()
	spec, err := query.Parse("find", "t", q, false)
	if err != nil {
		tb.Fatalf("reference: %v", err)
	}
	var docs []query.Doc
	for _, d := range m.docs {
		docs = append(docs, d)
	}
	var ids []string
	for _, d := range query.Eval(docs, spec) {
		ids = append(ids, d.ID)
	}
	return ids
}

// testFindDifferential compares Find, FindPage and CountWhere with the
// reference evaluator on random documents and random queries, and pages
// through random queries while records are inserted, updated and deleted
// between pages.
func testFindDifferential(t *testing.T, open openFunc) {
	_, s := openStore(t, open, "items")
	r := rand.New(rand.NewPCG(14, 2026))
	m := &model{docs: map[string]query.Doc{}}
	for i := range 80 {
		id := fmt.Sprintf("d%02d", i)
		data := randFindDoc(r)
		mustPut(t, s, id, data)
		m.put(id, data)
	}
	for i := range findCases() {
		q := randFindQuery(r)
		want := m.eval(t, q)
		got, err := collect(t, s.Find(t.Context(), q))
		if err != nil {
			t.Fatalf("case %d: Find(%+v): %v", i, q.Parts(), err)
		}
		if !slices.Equal(idsOf(got), want) {
			t.Fatalf("case %d: Find(%+v)\n got %q\nwant %q", i, describeQuery(q), idsOf(got), want)
		}
		n, err := s.CountWhere(t.Context(), q)
		if err != nil {
			t.Fatalf("case %d: CountWhere: %v", i, err)
		}
		if full := m.eval(t, q.Limit(0)); n != int64(len(full)) {
			t.Fatalf("case %d: CountWhere(%s)=%d, want %d", i, describeQuery(q), n, len(full))
		}
		if i%4 != 0 {
			continue
		}
		// Page through with a random size: with no writes, the pages
		// are exactly the whole answer.
		size := 1 + r.IntN(7)
		var pages []string
		cursor := ""
		for range 200 {
			p, err := s.FindPage(t.Context(), q.Limit(size).After(cursor))
			if err != nil {
				t.Fatalf("case %d: FindPage: %v", i, err)
			}
			pages = append(pages, idsOf(p.Records)...)
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if full := m.eval(t, q.Limit(0)); !slices.Equal(pages, full) {
			t.Fatalf("case %d: pages of %d of %s\n got %q\nwant %q", i, size, describeQuery(q), pages, full)
		}
	}

	// Paging while writing: records that stay and match are each seen
	// once, none is seen twice, and what is seen keeps the query's order.
	for i := range findCases() / 20 {
		q := randFindQuery(r).Limit(0)
		size := 1 + r.IntN(5)
		stay := map[string]bool{}
		for id := range m.docs {
			stay[id] = true
		}
		var seen []string
		cursor := ""
		for range 500 {
			p, err := s.FindPage(t.Context(), q.Limit(size).After(cursor))
			if err != nil {
				t.Fatalf("write case %d: FindPage: %v", i, err)
			}
			seen = append(seen, idsOf(p.Records)...)
			if cursor = p.Next; cursor == "" {
				break
			}
			for range 1 + r.IntN(3) {
				switch r.IntN(3) {
				case 0:
					id := fmt.Sprintf("n%d-%d", i, r.IntN(1000))
					data := randFindDoc(r)
					mustPut(t, s, id, data)
					m.put(id, data)
					delete(stay, id)
				case 1:
					ids := mapKeys(m.docs)
					id := ids[r.IntN(len(ids))]
					if _, err := s.Delete(t.Context(), id); err != nil {
						t.Fatal(err)
					}
					delete(m.docs, id)
					delete(stay, id)
				default:
					ids := mapKeys(m.docs)
					id := ids[r.IntN(len(ids))]
					data := randFindDoc(r)
					mustPut(t, s, id, data)
					m.put(id, data)
					delete(stay, id)
				}
			}
		}
		counts := map[string]int{}
		for _, id := range seen {
			if counts[id]++; counts[id] > 1 && stay[id] {
				t.Fatalf("write case %d: %s seen twice paging %s", i, id, describeQuery(q))
			}
		}
		final := m.eval(t, q)
		for _, id := range final {
			if stay[id] && counts[id] == 0 {
				t.Fatalf("write case %d: %s lost paging %s", i, id, describeQuery(q))
			}
		}
		// The records that stayed come in the order of the final answer.
		var a, b []string
		for _, id := range seen {
			if stay[id] {
				a = append(a, id)
			}
		}
		for _, id := range final {
			if stay[id] {
				b = append(b, id)
			}
		}
		if !slices.Equal(a, b) {
			t.Fatalf("write case %d: order of %s\n got %q\nwant %q", i, describeQuery(q), a, b)
		}
	}
}

func mapKeys(m map[string]query.Doc) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func describeQuery(q persist.Query) string {
	p := q.Parts()
	var b strings.Builder
	for _, c := range p.Conditions {
		fmt.Fprintf(&b, "Where(%s %s %s) ", c.Path, c.Op, c.Value)
	}
	for _, o := range p.Order {
		fmt.Fprintf(&b, "OrderBy(%s %d) ", o.Path, o.Dir)
	}
	if p.Limit > 0 {
		fmt.Fprintf(&b, "Limit(%d)", p.Limit)
	}
	return b.String()
}
