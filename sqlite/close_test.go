package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/persistkit/persist"
)

func TestClose_Idempotent(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	s := MustStore(t, db, "items")
	MustPut(t, s, "a", `{}`)

	for i := range 3 {
		if err := db.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	checks := map[string]error{}
	_, checks["Store"] = db.Store("items")
	_, checks["Get"] = s.Get(ctx, "a")
	_, checks["Put"] = s.Put(ctx, persist.Record{ID: "b", Data: []byte(`{}`)})
	_, checks["Tables"] = db.Tables(ctx)
	checks["Ping"] = db.Ping(ctx)
	checks["Tx"] = db.Tx(ctx, func(persist.Tx) error { return nil })
	for _, err := range s.List(ctx, nil) {
		checks["List"] = err
	}
	for name, err := range checks {
		if !errors.Is(err, persist.ErrClosed) {
			t.Errorf("%s after Close: err=%v, want ErrClosed", name, err)
		}
	}
}

func TestTx_PanicRollsBack(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	s := MustStore(t, db, "items")
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recover()=%v, want boom", p)
			}
		}()
		_ = db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("items")
			if err != nil {
				return err
			}
			MustPut(t, ts, "a", `{}`)
			panic("boom")
		})
	}()
	if _, err := s.Get(ctx, "a"); !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Get after panicked Tx: err=%v, want ErrNotFound", err)
	}
	// The writer is usable again.
	MustPut(t, s, "b", `{}`)
}

func TestTx_CreatesTableOnlyOnCommit(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	err := db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("fresh")
		if err != nil {
			return err
		}
		MustPut(t, ts, "a", `{}`)
		return errors.New("no")
	})
	if err == nil || err.Error() != "no" {
		t.Fatalf("Tx err=%v, want fn's error unchanged", err)
	}
	if tables, err := db.Tables(ctx); err != nil || len(tables) != 0 {
		t.Fatalf("Tables=%v, %v; want none after rollback", tables, err)
	}
	if err := db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("fresh")
		if err != nil {
			return err
		}
		MustPut(t, ts, "a", `{}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec, err := MustStore(t, db, "fresh").Get(ctx, "a")
	if err != nil || rec.Revision != 1 {
		t.Fatalf("Get=%+v, %v", rec, err)
	}
}
