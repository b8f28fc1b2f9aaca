package persisttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/persistkit/persist"
)

// The transaction functions below report failures by returning errors
// rather than calling t.Fatal, since the contract does not promise that fn
// runs on the test's goroutine.

func testTx(t *testing.T, open openFunc) {
	t.Run("Commit", func(t *testing.T) {
		db := open(t)
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			a, err := tx.Store("a")
			if err != nil {
				return err
			}
			b, err := tx.Store("b")
			if err != nil {
				return err
			}
			if _, err := a.Put(t.Context(), persist.Record{ID: "x", Data: json.RawMessage(`{"in":"a"}`)}); err != nil {
				return err
			}
			_, err = b.Insert(t.Context(), persist.Record{ID: "y", Data: json.RawMessage(`{"in":"b"}`)})
			return err
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		rec := mustGet(t, mustStore(t, db, "a"), "x")
		wantData(t, rec.Data, `{"in":"a"}`)
		if rec.Revision != 1 {
			t.Errorf("Revision=%v, want 1", rec.Revision)
		}
		wantTimes(t, rec)
		wantData(t, mustGet(t, mustStore(t, db, "b"), "y").Data, `{"in":"b"}`)
	})

	t.Run("Rollback", func(t *testing.T) {
		db := open(t)
		a, b := mustStore(t, db, "a"), mustStore(t, db, "b")
		mustPut(t, a, "keep", `{"v":1}`)
		mustPut(t, b, "keep", `{"v":2}`)
		mustPut(t, b, "gone", `{"v":3}`)
		beforeA, beforeB := snapshot(t, a), snapshot(t, b)
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			ta, err := tx.Store("a")
			if err != nil {
				return err
			}
			tb, err := tx.Store("b")
			if err != nil {
				return err
			}
			ctx := t.Context()
			if _, err := ta.Put(ctx, persist.Record{ID: "new", Data: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			if _, err := ta.Update(ctx, persist.Record{ID: "keep", Data: json.RawMessage(`{"v":"changed"}`)}); err != nil {
				return err
			}
			if _, err := tb.UpdateFunc(ctx, "keep", func(persist.Record) (json.RawMessage, error) {
				return json.RawMessage(`{"v":"changed"}`), nil
			}); err != nil {
				return err
			}
			if _, err := tb.Delete(ctx, "gone"); err != nil {
				return err
			}
			if _, err := tb.InsertMany(ctx, []persist.Record{{ID: "many", Data: json.RawMessage(`{}`)}}); err != nil {
				return err
			}
			return fmt.Errorf("giving up: %w", errBoom)
		})
		wantErr(t, err, errBoom)
		wantUnchanged(t, a, beforeA)
		wantUnchanged(t, b, beforeB)
	})

	t.Run("ReadYourWrites", func(t *testing.T) {
		db, s := openStore(t, open, "a")
		mustPut(t, s, "old", `{"k":1}`)
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			ts, err := tx.Store("a")
			if err != nil {
				return err
			}
			ctx := t.Context()
			put, err := ts.Put(ctx, persist.Record{ID: "new", Data: json.RawMessage(`{"k":1}`)})
			if err != nil {
				return err
			}
			got, err := ts.Get(ctx, "new")
			if err != nil {
				return fmt.Errorf("get inside the tx: %w", err)
			}
			if got.Revision != put.Revision || diffJSON(got.Data, put.Data) != "" {
				return fmt.Errorf("get inside the tx=%s rev %d, want %s rev %d", got.Data, got.Revision, put.Data, put.Revision)
			}
			if n, err := ts.Count(ctx); err != nil || n != 2 {
				return fmt.Errorf("count inside the tx=%v, %v; want 2", n, err)
			}
			var ids []string
			for rec, err := range ts.Query(ctx, json.RawMessage(`{"k":1}`), nil) {
				if err != nil {
					return fmt.Errorf("query inside the tx: %w", err)
				}
				ids = append(ids, rec.ID)
			}
			if fmt.Sprint(ids) != "[old new]" {
				return fmt.Errorf("query inside the tx: ids %q, want [old new]", ids)
			}
			if ok, err := ts.Delete(ctx, "old"); err != nil || !ok {
				return fmt.Errorf("delete inside the tx=%v, %v; want true", ok, err)
			}
			if _, err := ts.Get(ctx, "old"); !errors.Is(err, persist.ErrNotFound) {
				return fmt.Errorf("get of a record deleted inside the tx: err %v, want %v", err, persist.ErrNotFound)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		wantMissing(t, s, "old")
		wantData(t, mustGet(t, s, "new").Data, `{"k":1}`)
	})

	t.Run("ErrClosed", func(t *testing.T) {
		// A store kept past the end of its transaction must not write
		// outside it, nor into a later one.
		db, s := openStore(t, open, "a")
		var leaked persist.Store
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			var err error
			leaked, err = tx.Store("a")
			return err
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		ctx := t.Context()
		_, err = leaked.Put(ctx, persist.Record{ID: "late", Data: json.RawMessage(`{}`)})
		wantErr(t, err, persist.ErrClosed)
		_, err = leaked.Get(ctx, "late")
		wantErr(t, err, persist.ErrClosed)
		_, err = leaked.Count(ctx)
		wantErr(t, err, persist.ErrClosed)
		_, err = collect(t, leaked.List(ctx, nil))
		wantErr(t, err, persist.ErrClosed)
		wantMissing(t, s, "late")
		wantCount(t, s, 0)
		// The DB itself is still fine.
		mustPut(t, s, "after", `{}`)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		db := open(t)
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			_, err := tx.Store(`x"; DROP TABLE y; --`)
			return err
		})
		wantErr(t, err, persist.ErrInvalid)
		if names := mustTables(t, db); len(names) != 0 {
			t.Errorf("Tables()=%q, want none", names)
		}
	})
}
