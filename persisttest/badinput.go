package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

// The bad-input grid: every operation, called with each kind of bad input
// it takes, in each state of the DB, fails with the sentinel that the
// order of checks gives, the same on every backend. The checks run in one
// order: a closed DB (or finished transaction) first, then the context,
// then the input. So:
//
//	state                      any input       bad input
//	open                       -               ErrInvalid
//	context cancelled          context.Canceled
//	closed                     ErrClosed
//	closed, context cancelled  ErrClosed
//	transaction over           ErrClosed
//
// Every error is a *persist.Error naming the operation and the table, and
// an id only if the caller gave it (never one generated for the call).
// Nothing is written.

// gridIDs are ids that stay invalid whatever else the id rules allow: they
// hold U+0000, are far too long, or are not UTF-8.
var gridIDs = []string{"a\x00b", strings.Repeat("x", 10<<10), "\xff\xfe"}

// gridData are documents that are not objects, not JSON, or hold U+0000.
var gridData = []string{`[1]`, `{"a":`, `{"a":"\u0000"}`}

// gridCase is one call of the grid.
type gridCase struct {
	method string // the method called
	op     string // the Op its errors name
	input  string // "Valid", or the kind of bad input
	given  []string
	needs  string // "", "batcher" or "bulk": the optional interface called
	call   func(ctx context.Context, db persist.DB, s persist.Store) error
}

// gridCases generates the grid's calls: each operation with a valid input
// and with every kind of bad input it takes.
func gridCases() []gridCase {
	var cs []gridCase
	add := func(method, op, input, needs string, given []string, call func(ctx context.Context, db persist.DB, s persist.Store) error) {
		cs = append(cs, gridCase{method: method, op: op, input: input, given: given, needs: needs, call: call})
	}
	good := json.RawMessage(`{"v":"written"}`)

	// Records, as Put, Insert, Update, InsertMany, ReplaceAll, PutMany
	// and Apply take them.
	type recInput struct {
		name string
		rec  persist.Record
	}
	recs := []recInput{
		{"Valid", persist.Record{ID: "a", Data: good}},
		{"NegativeRevision", persist.Record{ID: "a", Data: good, Revision: -1}},
		{"NegativeRevisionMissing", persist.Record{ID: "missing", Data: good, Revision: -1}},
		{"NegativeRevisionNoID", persist.Record{Data: good, Revision: -1}},
		{"BadIDAndData", persist.Record{ID: gridIDs[0], Data: json.RawMessage(gridData[0])}},
		{"NegativeRevisionAndBadData", persist.Record{ID: "a", Data: json.RawMessage(gridData[0]), Revision: -1}},
	}
	for i, id := range gridIDs {
		recs = append(recs, recInput{fmt.Sprintf("BadID%d", i), persist.Record{ID: id, Data: good}})
	}
	for i, d := range gridData {
		recs = append(recs,
			recInput{fmt.Sprintf("BadData%d", i), persist.Record{ID: "a", Data: json.RawMessage(d)}},
			recInput{fmt.Sprintf("BadDataNoID%d", i), persist.Record{Data: json.RawMessage(d)}})
	}
	recs = append(recs, recInput{"NilData", persist.Record{ID: "a"}})
	for _, r := range recs {
		rec := r.rec
		given := []string{rec.ID}
		add("Put", "put", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.Put(ctx, rec)
			return err
		})
		add("Insert", "insert", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.Insert(ctx, rec)
			return err
		})
		add("ReplaceAll", "replace_all", r.name, "", append(given, "ok"), func(ctx context.Context, _ persist.DB, s persist.Store) error {
			return s.ReplaceAll(ctx, []persist.Record{{ID: "ok", Data: good}, rec})
		})
		add("PutMany", "put_many", r.name, "batcher", append(given, "ok"), func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.(persist.Batcher).PutMany(ctx, []persist.Record{{ID: "ok", Data: good}, rec})
			return err
		})
		if rec.ID == "" {
			// What an empty id means to the operations that address a
			// record is the id rules' business, not this grid's.
			continue
		}
		add("Update", "update", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.Update(ctx, rec)
			return err
		})
		add("InsertMany", "insert_many", r.name, "", append(given, "ok"), func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.InsertMany(ctx, []persist.Record{{ID: "ok", Data: good}, rec})
			return err
		})
		for _, op := range []persist.WriteOp{persist.WritePut, persist.WriteInsert} {
			add("Apply"+op.String(), "apply", r.name, "", append(given, "ok"), func(ctx context.Context, db persist.DB, s persist.Store) error {
				_, err := persist.Apply(ctx, db,
					persist.Write{Table: s.Name(), Op: persist.WritePut, Record: persist.Record{ID: "ok", Data: good}},
					persist.Write{Table: s.Name(), Op: op, Record: rec})
				return err
			})
		}
	}

	// Ids, as the operations that address a record take them.
	ids := []recInput{{"Valid", persist.Record{ID: "a"}}}
	for i, id := range gridIDs {
		ids = append(ids, recInput{fmt.Sprintf("BadID%d", i), persist.Record{ID: id}})
	}
	for _, r := range ids {
		id := r.rec.ID
		given := []string{id}
		add("Get", "get", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.Get(ctx, id)
			return err
		})
		add("Delete", "delete", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.Delete(ctx, id)
			return err
		})
		add("UpdateFunc", "update_func", r.name, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.UpdateFunc(ctx, id, func(persist.Record) (json.RawMessage, error) { return good, nil })
			return err
		})
		after := "After" + r.name
		if r.name == "Valid" {
			after = r.name
		}
		add("List", "list", after, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.List(ctx, &persist.ListOptions{After: id}))
			return err
		})
		add("QueryAfter", "query", after, "", given, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.Query(ctx, json.RawMessage(`{"v":0}`), &persist.ListOptions{After: id, Order: persist.ByID}))
			return err
		})
		add("GetMany", "get_many", r.name, "batcher", append(given, "a"), func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.(persist.Batcher).GetMany(ctx, []string{"a", id})
			return err
		})
		add("DeleteMany", "delete_many", r.name, "batcher", append(given, "a"), func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.(persist.Batcher).DeleteMany(ctx, []string{"a", id})
			return err
		})
		for _, op := range []persist.WriteOp{persist.WriteDelete, persist.WriteCheck} {
			add("Apply"+op.String(), "apply", r.name, "", given, func(ctx context.Context, db persist.DB, s persist.Store) error {
				_, err := persist.Apply(ctx, db, persist.Write{Table: s.Name(), Op: op, Record: persist.Record{ID: id, Revision: 1}})
				return err
			})
		}
	}
	add("Apply", "apply", "BadTable", "", []string{"a"}, func(ctx context.Context, db persist.DB, _ persist.Store) error {
		_, err := persist.Apply(ctx, db, persist.Write{Table: "Bad", Op: persist.WritePut, Record: persist.Record{ID: "a", Data: good}})
		return err
	})
	add("Apply", "apply", "BadOp", "", []string{"a"}, func(ctx context.Context, db persist.DB, s persist.Store) error {
		_, err := persist.Apply(ctx, db, persist.Write{Table: s.Name(), Op: 0, Record: persist.Record{ID: "a", Data: good}})
		return err
	})

	// What UpdateFunc's fn may get wrong: being nil, returning bad data.
	add("UpdateFunc", "update_func", "NilFn", "", []string{"a"}, func(ctx context.Context, _ persist.DB, s persist.Store) error {
		_, err := s.UpdateFunc(ctx, "a", nil)
		return err
	})
	for i, d := range gridData {
		add("UpdateFunc", "update_func", fmt.Sprintf("FnReturnsBadData%d", i), "", []string{"a"}, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.UpdateFunc(ctx, "a", func(persist.Record) (json.RawMessage, error) { return json.RawMessage(d), nil })
			return err
		})
	}

	// List options and filters.
	for name, o := range map[string]persist.ListOptions{"NegativeLimit": {Limit: -1}, "UnknownOrder": {Order: 7}} {
		add("List", "list", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.List(ctx, &o))
			return err
		})
		add("Query", "query", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.Query(ctx, json.RawMessage(`{}`), &o))
			return err
		})
	}
	for i, f := range []string{`[]`, `{"a":[1]}`, `{"a.b":1}`, `{`, ``, `{"v":0}`} {
		name := fmt.Sprintf("BadFilter%d", i)
		if f == `{"v":0}` {
			name = "Valid"
		}
		add("Query", "query", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.Query(ctx, json.RawMessage(f), nil))
			return err
		})
	}

	// Queries.
	for name, q := range map[string]persist.Query{
		"Valid":     persist.Where("v", ">=", 0).OrderBy("v", persist.Desc),
		"BadOp":     persist.Where("v", "=", 0),
		"BadPath":   persist.Where("v..w", "exists", nil),
		"BadCursor": persist.Query{}.After("x"),
		"BadLimit":  persist.Query{}.Limit(-1),
	} {
		add("Find", "find", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := collectErr(s.Find(ctx, q))
			return err
		})
		add("FindPage", "find_page", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.FindPage(ctx, q)
			return err
		})
		add("CountWhere", "count_where", name, "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
			_, err := s.CountWhere(ctx, q)
			return err
		})
	}

	// The operations without input.
	add("Count", "count", "Valid", "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
		_, err := s.Count(ctx)
		return err
	})
	add("Clear", "clear", "Valid", "", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
		_, err := s.Clear(ctx)
		return err
	})
	add("BeginBulkLoad", "bulk_load", "Valid", "bulk", nil, func(ctx context.Context, _ persist.DB, s persist.Store) error {
		finish, err := s.(persist.BulkLoader).BeginBulkLoad(ctx)
		if err == nil {
			err = finish(ctx)
		}
		return err
	})
	return cs
}

// collectErr ranges over seq to the end and returns how many records it
// yielded and its first error.
func collectErr(seq func(func(persist.Record, error) bool)) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// supports reports whether db and s implement what c calls.
func (c gridCase) supports(db persist.DB, s persist.Store) bool {
	switch c.needs {
	case "batcher":
		_, ok := s.(persist.Batcher)
		return ok
	case "applier":
		_, ok := db.(persist.Applier)
		return ok
	case "bulk":
		_, ok := s.(persist.BulkLoader)
		return ok
	}
	return true
}

// wantGridErr checks one call's error: target, as a *persist.Error naming
// op, the table (but for Apply, which may name the write's), and no id
// the caller did not give.
func wantGridErr(tb testing.TB, c gridCase, err, target error, table string) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("%s(%s): err=%v, want one matching %v", c.method, c.input, err, target)
		return
	}
	var pe *persist.Error
	if !errors.As(err, &pe) {
		tb.Errorf("%s(%s): err=%v (%T), want a *persist.Error", c.method, c.input, err, err)
		return
	}
	if pe.Op != c.op {
		tb.Errorf("%s(%s): Error.Op=%q, want %q (err %v)", c.method, c.input, pe.Op, c.op, err)
	}
	if c.op != "apply" && pe.Table != table {
		tb.Errorf("%s(%s): Error.Table=%q, want %q (err %v)", c.method, c.input, pe.Table, table, err)
	}
	if pe.ID != "" && !slices.Contains(c.given, pe.ID) {
		tb.Errorf("%s(%s): Error.ID=%.40q, an id the caller did not give (err %.200v)", c.method, c.input, pe.ID, err)
	}
}

func testBadInput(t *testing.T, open openFunc) {
	// The cases where the backends once disagreed, by name.
	t.Run("PutNegativeRevision", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":0}`)
		before := snapshot(t, s)
		for _, id := range []string{"a", "missing"} {
			_, err := s.Put(t.Context(), persist.Record{ID: id, Data: json.RawMessage(`{}`), Revision: -1})
			wantOpErr(t, err, persist.ErrInvalid, "put", "items", id)
		}
		wantUnchanged(t, s, before)
	})
	t.Run("UpdateNegativeRevision", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":0}`)
		before := snapshot(t, s)
		for _, id := range []string{"a", "missing"} {
			_, err := s.Update(t.Context(), persist.Record{ID: id, Data: json.RawMessage(`{}`), Revision: -1})
			wantOpErr(t, err, persist.ErrInvalid, "update", "items", id)
		}
		wantUnchanged(t, s, before)
	})
	t.Run("ClosedThenBadData", func(t *testing.T) {
		// ErrClosed, naming no id: none was given, and none is generated
		// for a call that is refused.
		db, s := openStore(t, open, "items")
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := s.Put(t.Context(), persist.Record{Data: json.RawMessage(`[1]`)})
		wantOpErr(t, err, persist.ErrClosed, "put", "items", "")
		_, err = s.Insert(t.Context(), persist.Record{Data: json.RawMessage(`{"a":`)})
		wantOpErr(t, err, persist.ErrClosed, "insert", "items", "")
		_, err = s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`[1]`), Revision: -1})
		wantOpErr(t, err, persist.ErrClosed, "put", "items", "a")
	})

	cases := gridCases()
	// Every state that refuses a call whatever its input; the open state,
	// which refuses only bad input, runs last, on the same records.
	type state struct {
		name   string
		target error
		ctx    func() context.Context
	}
	live := func() context.Context { return context.Background() }

	t.Run("Closed", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":0}`)
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, st := range []state{{"Live", persist.ErrClosed, live}, {"Canceled", persist.ErrClosed, canceled}} {
			t.Run(st.name, func(t *testing.T) {
				for _, c := range cases {
					if c.supports(db, s) {
						wantGridErr(t, c, c.call(st.ctx(), db, s), st.target, "items")
					}
				}
			})
		}
	})

	t.Run("TxOver", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":0}`)
		before := snapshot(t, s)
		var ts persist.Store
		if err := db.Tx(t.Context(), func(tx persist.Tx) error {
			var err error
			ts, err = tx.Store("items")
			return err
		}); err != nil {
			t.Fatalf("Tx: %v", err)
		}
		for _, st := range []state{{"Live", persist.ErrClosed, live}, {"Canceled", persist.ErrClosed, canceled}} {
			t.Run(st.name, func(t *testing.T) {
				for _, c := range cases {
					if c.op != "apply" && c.supports(db, ts) {
						wantGridErr(t, c, c.call(st.ctx(), db, ts), st.target, "items")
					}
				}
			})
		}
		wantUnchanged(t, s, before)
	})

	t.Run("Open", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":0}`)
		before := snapshot(t, s)
		t.Run("Canceled", func(t *testing.T) {
			for _, c := range cases {
				if c.supports(db, s) {
					wantGridErr(t, c, c.call(canceled(), db, s), context.Canceled, "items")
				}
			}
			wantUnchanged(t, s, before)
		})
		t.Run("Live", func(t *testing.T) {
			for _, c := range cases {
				if c.input == "Valid" || !c.supports(db, s) {
					continue
				}
				wantGridErr(t, c, c.call(t.Context(), db, s), persist.ErrInvalid, "items")
			}
			wantUnchanged(t, s, before)
			if names := mustTables(t, db); !slices.Equal(names, []string{"items"}) {
				t.Errorf("Tables()=%q, want [items]", names)
			}
		})
	})
}
