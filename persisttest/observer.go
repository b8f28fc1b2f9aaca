package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/persistkit/persist"
)

// TestObserver checks that a backend reports its operations to a
// [persist.Observer] set in [persist.Options.Observer]. open must open a
// new, empty DB with opts applied and arrange for it to be closed, as
// [TestStore]'s open does.
//
// For every operation of [persist.Store], [persist.DB], [persist.Batcher]
// and [persist.Applier] (the last two when the backend has them), on
// success and on each outcome the operation can have (ErrNotFound,
// ErrConflict, ErrInvalid, ErrClosed, context.Canceled, a caller's own
// error), the operation is observed exactly once at the top level, with
// Start before End on the caller's goroutine and End given the context
// Start returned. Its Name is the Op of the error it returns, Table the
// table ("" for tx, tables, ping and apply), Records the length of a bulk
// call's input, or the records List and Query yielded, and
// [persist.Operation.Outcome] the sentinel of the returned error; Err is
// that error, Attempts is len(Retries)+1, Duration is set, and System is
// "sqlite" or "postgresql". No field carries an id or a document.
// Operations made while another is open (the stores of a Tx) are
// observed with their own Operation.
func TestObserver(t *testing.T, open func(t *testing.T, opts *persist.Options) persist.DB) {
	ctx := t.Context()
	rec := &recorder{}
	db := open(t, &persist.Options{Observer: rec})
	s := mustStore(t, db, "observed")
	const id, secretID = "rec-1", "secret-id-4711"
	secretDoc := `{"token":"secret-doc-0815"}`

	type want struct {
		name, table string
		records     int
		outcome     error
	}
	// check runs call and compares the one top-level operation it
	// reported with w.
	check := func(t *testing.T, w want, call func() error) {
		t.Helper()
		rec.reset()
		err := call()
		ops := rec.top()
		if len(ops) != 1 {
			t.Fatalf("%d top-level operations observed (%v), want 1 %q", len(ops), names(ops), w.name)
		}
		op := ops[0]
		if op.Name != w.name || op.Table != w.table || op.Records != w.records {
			t.Errorf("observed %q table %q records %d, want %q table %q records %d", op.Name, op.Table, op.Records, w.name, w.table, w.records)
		}
		if got := op.Outcome(); got != w.outcome && (w.outcome == nil || !errors.Is(got, w.outcome)) {
			t.Errorf("%s: Outcome()=%v, want %v (err %v)", w.name, got, w.outcome, op.Err)
		}
		if op.Err != err && !errors.Is(err, op.Err) {
			t.Errorf("%s: Err=%v, want the error returned, %v", w.name, op.Err, err)
		}
		if op.System != "sqlite" && op.System != "postgresql" {
			t.Errorf("%s: System=%q, want sqlite or postgresql", w.name, op.System)
		}
		if op.Attempts != len(op.Retries)+1 {
			t.Errorf("%s: Attempts=%d with Retries %v, want len(Retries)+1", w.name, op.Attempts, op.Retries)
		}
		if op.Start.IsZero() || op.Duration < 0 {
			t.Errorf("%s: Start=%v Duration=%v, want both set", w.name, op.Start, op.Duration)
		}
		for _, f := range append([]string{op.Name, op.Table, op.System, op.Namespace, op.ServerAddress}, op.Retries...) {
			if strings.Contains(f, "secret-") {
				t.Errorf("%s: field %q carries an id or a document", w.name, f)
			}
		}
		if p := rec.problem(); p != "" {
			t.Error(p)
		}
	}
	data := json.RawMessage(`{"n":1}`)
	put := func(id string) persist.Record {
		r, err := s.Put(ctx, persist.Record{ID: id, Data: data})
		if err != nil {
			t.Fatalf("Put(%q): %v", id, err)
		}
		return r
	}
	ranged := func(seq func(func(persist.Record, error) bool), stop int) error {
		n := 0
		var last error
		seq(func(_ persist.Record, err error) bool {
			n++
			if err != nil {
				last = err
			}
			return n != stop
		})
		return last
	}
	const table = "observed"
	bad := json.RawMessage(`[1]`)

	t.Run("Store", func(t *testing.T) {
		check(t, want{"get", table, 0, persist.ErrNotFound}, func() error { _, err := s.Get(ctx, secretID); return err })
		check(t, want{"get", table, 0, persist.ErrInvalid}, func() error { _, err := s.Get(ctx, "bad\x00id"); return err })
		check(t, want{"put", table, 0, nil}, func() error {
			_, err := s.Put(ctx, persist.Record{ID: secretID, Data: json.RawMessage(secretDoc)})
			return err
		})
		check(t, want{"get", table, 0, nil}, func() error { _, err := s.Get(ctx, secretID); return err })
		check(t, want{"put", table, 0, persist.ErrConflict}, func() error {
			_, err := s.Put(ctx, persist.Record{ID: secretID, Data: data, Revision: 9})
			return err
		})
		check(t, want{"put", table, 0, persist.ErrInvalid}, func() error {
			_, err := s.Put(ctx, persist.Record{ID: id, Data: bad})
			return err
		})
		check(t, want{"insert", table, 0, nil}, func() error { _, err := s.Insert(ctx, persist.Record{ID: id, Data: data}); return err })
		check(t, want{"insert", table, 0, persist.ErrConflict}, func() error { _, err := s.Insert(ctx, persist.Record{ID: id, Data: data}); return err })
		check(t, want{"update", table, 0, nil}, func() error { _, err := s.Update(ctx, persist.Record{ID: id, Data: data}); return err })
		check(t, want{"update", table, 0, persist.ErrNotFound}, func() error {
			_, err := s.Update(ctx, persist.Record{ID: "missing", Data: data})
			return err
		})
		check(t, want{"update", table, 0, persist.ErrConflict}, func() error {
			_, err := s.Update(ctx, persist.Record{ID: id, Data: data, Revision: 99})
			return err
		})
		check(t, want{"update_func", table, 0, nil}, func() error {
			_, err := s.UpdateFunc(ctx, id, func(r persist.Record) (json.RawMessage, error) { return r.Data, nil })
			return err
		})
		check(t, want{"update_func", table, 0, errBoom}, func() error {
			_, err := s.UpdateFunc(ctx, id, func(persist.Record) (json.RawMessage, error) { return nil, errBoom })
			return err
		})
		check(t, want{"update_func", table, 0, persist.ErrInvalid}, func() error { _, err := s.UpdateFunc(ctx, id, nil); return err })
		check(t, want{"delete", table, 0, nil}, func() error { _, err := s.Delete(ctx, id); return err })
		check(t, want{"delete", table, 0, persist.ErrInvalid}, func() error { _, err := s.Delete(ctx, strings.Repeat("x", 3000)); return err })
		check(t, want{"count", table, 0, nil}, func() error { _, err := s.Count(ctx); return err })
		recs := []persist.Record{{ID: "a", Data: data}, {ID: "b", Data: data}, {ID: "c", Data: data}}
		check(t, want{"insert_many", table, 3, nil}, func() error { _, err := s.InsertMany(ctx, recs); return err })
		check(t, want{"insert_many", table, 2, persist.ErrInvalid}, func() error {
			_, err := s.InsertMany(ctx, []persist.Record{{ID: "d", Data: data}, {ID: "e", Data: bad}})
			return err
		})
		check(t, want{"list", table, 4, nil}, func() error { return ranged(s.List(ctx, nil), -1) })
		check(t, want{"list", table, 2, nil}, func() error { return ranged(s.List(ctx, nil), 2) })
		check(t, want{"list", table, 0, persist.ErrInvalid}, func() error { return ranged(s.List(ctx, &persist.ListOptions{Limit: -1}), -1) })
		check(t, want{"list", table, 0, persist.ErrNotFound}, func() error {
			return ranged(s.List(ctx, &persist.ListOptions{After: "missing"}), -1)
		})
		check(t, want{"query", table, 3, nil}, func() error { return ranged(s.Query(ctx, json.RawMessage(`{"n":1}`), nil), -1) })
		check(t, want{"query", table, 0, persist.ErrInvalid}, func() error { return ranged(s.Query(ctx, bad, nil), -1) })
		check(t, want{"find", table, 3, nil}, func() error { return ranged(s.Find(ctx, persist.Where("n", "==", 1)), -1) })
		check(t, want{"find", table, 0, persist.ErrInvalid}, func() error { return ranged(s.Find(ctx, persist.Where("n", "~", 1)), -1) })
		check(t, want{"find_page", table, 0, nil}, func() error { _, err := s.FindPage(ctx, persist.Where("n", "==", 1)); return err })
		check(t, want{"find_page", table, 0, persist.ErrInvalid}, func() error { _, err := s.FindPage(ctx, persist.Query{}.After("garbage")); return err })
		check(t, want{"count_where", table, 0, nil}, func() error { _, err := s.CountWhere(ctx, persist.Where("n", "==", 1)); return err })
		check(t, want{"count_where", table, 0, persist.ErrInvalid}, func() error { _, err := s.CountWhere(ctx, persist.Where("n", ">", true)); return err })
		if ix, ok := s.(persist.Indexer); ok {
			check(t, want{"ensure_index", table, 0, persist.ErrInvalid}, func() error { return ix.EnsureIndex(ctx, persist.Index{Name: "Bad Name"}) })
			check(t, want{"explain", table, 0, nil}, func() error { _, err := ix.Explain(ctx, persist.Where("n", "==", 1)); return err })
		}
		check(t, want{"replace_all", table, 2, nil}, func() error {
			return s.ReplaceAll(ctx, []persist.Record{{ID: "x", Data: data}, {ID: "y", Data: data}})
		})
		check(t, want{"replace_all", table, 2, persist.ErrInvalid}, func() error {
			return s.ReplaceAll(ctx, []persist.Record{{ID: "x", Data: data}, {ID: "x", Data: data}})
		})
		check(t, want{"clear", table, 0, nil}, func() error { _, err := s.Clear(ctx); return err })
	})

	t.Run("DB", func(t *testing.T) {
		check(t, want{"tables", "", 0, nil}, func() error { _, err := db.Tables(ctx); return err })
		check(t, want{"ping", "", 0, nil}, func() error { return db.Ping(ctx) })
		check(t, want{"tx", "", 0, nil}, func() error {
			return db.Tx(ctx, func(tx persist.Tx) error {
				ts, err := tx.Store(table)
				if err != nil {
					return err
				}
				_, err = ts.Put(ctx, persist.Record{ID: "in-tx", Data: data})
				return err
			})
		})
		// The Put inside is observed too, nested in the Tx.
		if ops := rec.all(); len(ops) != 2 || ops[1].Name != "put" || ops[1].Table != table || ops[1].Err != nil {
			t.Errorf("operations inside Tx: %v, want tx and its put", names(ops))
		}
		check(t, want{"tx", "", 0, errBoom}, func() error { return db.Tx(ctx, func(persist.Tx) error { return errBoom }) })
		check(t, want{"tx", "", 0, persist.ErrInvalid}, func() error { return db.Tx(ctx, nil) })
	})

	t.Run("Batcher", func(t *testing.T) {
		b := batcher(t, s)
		put("m1")
		check(t, want{"get_many", table, 3, nil}, func() error { _, err := b.GetMany(ctx, []string{"m1", "m2", "m3"}); return err })
		check(t, want{"get_many", table, 1, persist.ErrInvalid}, func() error { _, err := b.GetMany(ctx, []string{"bad\x00"}); return err })
		check(t, want{"get_many", table, 2, nil}, func() error { _, err := b.GetManyForUpdate(ctx, []string{"m1", "m2"}); return err })
		check(t, want{"put_many", table, 2, nil}, func() error {
			_, err := b.PutMany(ctx, []persist.Record{{ID: "m2", Data: data}, {ID: "m3", Data: data}})
			return err
		})
		check(t, want{"put_many", table, 1, persist.ErrConflict}, func() error {
			_, err := b.PutMany(ctx, []persist.Record{{ID: "m2", Data: data, Revision: 7}})
			return err
		})
		check(t, want{"delete_many", table, 2, nil}, func() error { _, err := b.DeleteMany(ctx, []string{"m1", "m9"}); return err })
	})

	t.Run("Applier", func(t *testing.T) {
		a, ok := db.(persist.Applier)
		if !ok {
			t.Skip("DB does not implement persist.Applier")
		}
		check(t, want{"apply", "", 2, nil}, func() error {
			_, err := a.Apply(ctx, write(table, persist.WritePut, "ap1", `{"n":1}`, 0), write("observed_b", persist.WritePut, "ap2", `{"n":2}`, 0))
			return err
		})
		check(t, want{"apply", "", 1, persist.ErrConflict}, func() error {
			_, err := a.Apply(ctx, write(table, persist.WriteInsert, "ap1", `{"n":1}`, 0))
			return err
		})
		check(t, want{"apply", "", 1, persist.ErrNotFound}, func() error {
			_, err := a.Apply(ctx, write(table, persist.WriteDelete, "nope", "", 0))
			return err
		})
	})

	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		check(t, want{"get", table, 0, context.Canceled}, func() error { _, err := s.Get(cctx, id); return err })
		check(t, want{"put", table, 0, context.Canceled}, func() error { _, err := s.Put(cctx, persist.Record{Data: data}); return err })
		check(t, want{"list", table, 0, context.Canceled}, func() error { return ranged(s.List(cctx, nil), -1) })
	})

	t.Run("Closed", func(t *testing.T) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, want{"get", table, 0, persist.ErrClosed}, func() error { _, err := s.Get(ctx, id); return err })
		check(t, want{"insert_many", table, 1, persist.ErrClosed}, func() error {
			_, err := s.InsertMany(ctx, []persist.Record{{ID: "z", Data: data}})
			return err
		})
		check(t, want{"tx", "", 0, persist.ErrClosed}, func() error { return db.Tx(ctx, func(persist.Tx) error { return nil }) })
		check(t, want{"query", table, 0, persist.ErrClosed}, func() error { return ranged(s.Query(ctx, json.RawMessage(`{}`), nil), -1) })
	})
}

// recorder is an Observer that keeps what it saw and checks how it was
// called: End once per Start, with the context Start returned.
type recorder struct {
	mu   sync.Mutex
	ops  []observed
	errs []string
	open int // operations started and not yet ended
}

type observed struct {
	persist.Operation
	depth int
}

type recKey struct{}

type recState struct {
	i     int
	ended bool
}

func (r *recorder) Start(ctx context.Context, op *persist.Operation) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	depth := r.open
	r.open++
	if op.Attempts != 1 || op.Err != nil || op.Duration != 0 {
		r.errs = append(r.errs, fmt.Sprintf("Start(%q): Attempts %d, Err %v, Duration %v; want 1, nil, 0", op.Name, op.Attempts, op.Err, op.Duration))
	}
	st := &recState{i: len(r.ops)}
	r.ops = append(r.ops, observed{Operation: persist.Operation{Name: op.Name}, depth: depth})
	return context.WithValue(ctx, recKey{}, st)
}

func (r *recorder) End(ctx context.Context, op *persist.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := ctx.Value(recKey{}).(*recState)
	switch {
	case !ok:
		r.errs = append(r.errs, fmt.Sprintf("End(%q) without the context Start returned", op.Name))
		return
	case st.ended:
		r.errs = append(r.errs, fmt.Sprintf("End(%q) twice", op.Name))
		return
	case r.ops[st.i].Name != op.Name:
		r.errs = append(r.errs, fmt.Sprintf("End(%q) with the context of Start(%q)", op.Name, r.ops[st.i].Name))
	}
	st.ended = true
	r.open--
	c := *op
	c.Retries = slices.Clone(op.Retries)
	r.ops[st.i].Operation = c
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops, r.errs, r.open = nil, nil, 0
}

// all returns every operation seen since reset, in the order they started.
func (r *recorder) all() []persist.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []persist.Operation
	for _, o := range r.ops {
		out = append(out, o.Operation)
	}
	return out
}

// top returns the operations that ran inside no other.
func (r *recorder) top() []persist.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []persist.Operation
	for _, o := range r.ops {
		if o.depth == 0 {
			out = append(out, o.Operation)
		}
	}
	return out
}

// problem describes the first misuse seen, or returns "".
func (r *recorder) problem() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range r.ops {
		if o.Start.IsZero() {
			return fmt.Sprintf("operation %d (%q) never ended", i, o.Name)
		}
	}
	if len(r.errs) > 0 {
		return r.errs[0]
	}
	return ""
}

func names(ops []persist.Operation) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.Name+" "+o.Table)
	}
	return out
}
