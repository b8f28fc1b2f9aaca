package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/persistkit/persist"
)

// TestWriteMarker checks a DB's [persist.WriteMarker]; it skips when the DB
// does not implement it. open returns a new, empty DB and, when lg is not
// nil, a [Legacy] writer on the same database. shared says that other
// clients may write to the same server meanwhile (other tests'
// databases): a marker that covers the server may then report a change at
// any time, which the contract allows, so only the checks that expect
// true run.
//
// The checks, grouped as the subtests are named:
//   - Quiet (not when shared): after reads only (Get, List, Count) and a
//     rolled-back transaction, changed reports false, again and again.
//   - Writes: a committed write reports true, and keeps reporting it:
//     Put, a write to another table, a write in [persist.DB.Tx], Delete,
//     and the earlier portal's own statement when lg is not nil.
//   - Closed: after Close, MarkWrites and changed are [persist.ErrClosed].
func TestWriteMarker(t *testing.T, open func(t *testing.T) (persist.DB, Legacy), shared bool) {
	t.Helper()
	db, _ := open(t)
	if _, ok := db.(persist.WriteMarker); !ok {
		t.Skip("the DB does not implement persist.WriteMarker")
	}
	doc := json.RawMessage(`{"n":1}`)
	mark := func(t *testing.T, db persist.DB) (func() bool, func()) {
		t.Helper()
		ctx := context.Background()
		changed, release, err := persist.MarkWrites(ctx, db)
		if err != nil {
			t.Fatalf("MarkWrites: %v", err)
		}
		return func() bool {
			t.Helper()
			c, err := changed(ctx)
			if err != nil {
				t.Fatalf("changed: %v", err)
			}
			return c
		}, release
	}
	seed := func(t *testing.T, db persist.DB) persist.Store {
		t.Helper()
		s, err := db.Store("marked")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(context.Background(), persist.Record{ID: "a", Data: doc}); err != nil {
			t.Fatal(err)
		}
		return s
	}

	quiet := func(t *testing.T) {
		ctx := context.Background()
		db, _ := open(t)
		s := seed(t, db)
		changed, release := mark(t, db)
		defer release()
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		for _, err := range s.List(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Count(ctx); err != nil {
			t.Fatal(err)
		}
		rollback := errors.New("rollback")
		err := db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("marked")
			if err != nil {
				return err
			}
			if _, err := ts.Put(ctx, persist.Record{ID: "b", Data: doc}); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Tx = %v, want the rollback", err)
		}
		for i := range 3 {
			if changed() {
				t.Fatalf("check %d: changed after reads and a rolled-back transaction", i)
			}
		}
	}
	if !shared {
		t.Run("Quiet", quiet)
	}

	t.Run("Writes", func(t *testing.T) {
		ctx := context.Background()
		db, lg := open(t)
		s := seed(t, db)
		writes := []struct {
			name  string
			write func() error
		}{
			{"Put", func() error { _, err := s.Put(ctx, persist.Record{ID: "a", Data: doc}); return err }},
			{"OtherTable", func() error {
				o, err := db.Store("other")
				if err != nil {
					return err
				}
				_, err = o.Insert(ctx, persist.Record{ID: "x", Data: doc})
				return err
			}},
			{"Tx", func() error {
				return db.Tx(ctx, func(tx persist.Tx) error {
					ts, err := tx.Store("marked")
					if err != nil {
						return err
					}
					_, err = ts.Put(ctx, persist.Record{ID: "c", Data: doc})
					return err
				})
			}},
			{"Delete", func() error { _, err := s.Delete(ctx, "c"); return err }},
		}
		if lg != nil {
			writes = append(writes, struct {
				name  string
				write func() error
			}{"Legacy", func() error { return lg.Add(ctx, "marked", "l", `{"legacy":true}`) }})
		}
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				changed, release := mark(t, db)
				defer release()
				if !shared && changed() {
					t.Fatal("changed before the write")
				}
				if err := w.write(); err != nil {
					t.Fatal(err)
				}
				if first, again := changed(), changed(); !first || !again {
					t.Fatal("a committed write is not reported, or not twice")
				}
			})
		}
	})

	t.Run("Closed", func(t *testing.T) {
		ctx := context.Background()
		db, _ := open(t)
		seed(t, db)
		changed, release, err := persist.MarkWrites(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		release()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := changed(ctx); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("changed after Close = %v, want ErrClosed", err)
		}
		if _, _, err := persist.MarkWrites(ctx, db); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("MarkWrites after Close = %v, want ErrClosed", err)
		}
	})
}
