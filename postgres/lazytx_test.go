package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// A transaction sends BEGIN with its first statement. These tests pin what
// that must not change: the first statement is inside the transaction
// whichever way it is sent, and the one pooled connection comes back idle
// after every outcome.
func TestTxBeginsWithFirstStatement(t *testing.T) {
	db, _ := mustOpen(t, func(c *postgres.Config) { c.Pool.MaxConns = 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s := mustStore(t, db, "lazy")
	if _, err := s.Put(ctx, persist.Record{ID: "taken", Data: json.RawMessage(`{"k":1}`)}); err != nil {
		t.Fatal(err)
	}
	errAbort := errors.New("abort")

	firsts := map[string]func(tx persist.Tx) error{
		"Put": func(tx persist.Tx) error {
			ts, err := tx.Store("lazy")
			if err != nil {
				return err
			}
			_, err = ts.Put(ctx, persist.Record{ID: "first", Data: json.RawMessage(`{"k":2}`)})
			return err
		},
		// A filtered Query passes a pgx option, so BEGIN goes alone.
		"Query": func(tx persist.Tx) error {
			ts, err := tx.Store("lazy")
			if err != nil {
				return err
			}
			for _, err := range ts.Query(ctx, json.RawMessage(`{"k":1}`), nil) {
				if err != nil {
					return err
				}
			}
			_, err = ts.Put(ctx, persist.Record{ID: "first", Data: json.RawMessage(`{"k":2}`)})
			return err
		},
		"Batch": func(tx persist.Tx) error {
			ts, err := tx.Store("lazy")
			if err != nil {
				return err
			}
			_, err = ts.(persist.Batcher).PutMany(ctx, []persist.Record{{ID: "first", Data: json.RawMessage(`{"k":2}`)}})
			return err
		},
	}
	for name, first := range firsts {
		t.Run(name+"/RolledBack", func(t *testing.T) {
			err := db.Tx(ctx, func(tx persist.Tx) error {
				if err := first(tx); err != nil {
					return err
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Tx=%v, want errAbort", err)
			}
			if _, err := s.Get(ctx, "first"); !errors.Is(err, persist.ErrNotFound) {
				t.Fatalf("Get after rollback: %v, want ErrNotFound: the first statement ran outside the transaction", err)
			}
		})
		t.Run(name+"/Committed", func(t *testing.T) {
			if err := db.Tx(ctx, first); err != nil {
				t.Fatalf("Tx: %v", err)
			}
			if _, err := s.Get(ctx, "first"); err != nil {
				t.Fatalf("Get after commit: %v", err)
			}
			if _, err := s.Delete(ctx, "first"); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("FirstStatementFails", func(t *testing.T) {
		err := db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("lazy")
			if err != nil {
				return err
			}
			_, err = ts.Insert(ctx, persist.Record{ID: "taken", Data: json.RawMessage(`{}`)})
			return err
		})
		if !errors.Is(err, persist.ErrConflict) {
			t.Fatalf("Tx=%v, want ErrConflict", err)
		}
		// The only connection must be usable, not left in a failed
		// transaction.
		if n, err := s.Count(ctx); err != nil || n != 1 {
			t.Fatalf("Count after failed Tx=%d, %v; want 1, nil", n, err)
		}
	})

	t.Run("NoStatement", func(t *testing.T) {
		if err := db.Tx(ctx, func(tx persist.Tx) error {
			_, err := tx.Store("lazy")
			return err
		}); err != nil {
			t.Fatalf("Tx without statements: %v", err)
		}
		if n, err := s.Count(ctx); err != nil || n != 1 {
			t.Fatalf("Count=%d, %v; want 1, nil", n, err)
		}
	})
}
