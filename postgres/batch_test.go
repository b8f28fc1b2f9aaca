package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// batcher returns the named store of db as a persist.Batcher.
func batcher(tb testing.TB, db persist.DB, name string) (persist.Store, persist.Batcher) {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%q): %v", name, err)
	}
	b, ok := s.(persist.Batcher)
	if !ok {
		tb.Fatalf("store %T does not implement persist.Batcher", s)
	}
	return s, b
}

func seed(tb testing.TB, s persist.Store, ids ...string) map[string]persist.Record {
	tb.Helper()
	out := map[string]persist.Record{}
	for _, id := range ids {
		rec, err := s.Put(context.Background(), persist.Record{ID: id, Data: []byte(`{"id":"` + id + `"}`)})
		if err != nil {
			tb.Fatalf("Put(%q): %v", id, err)
		}
		out[id] = rec
	}
	return out
}

// TestGetManyLockBlocksUpdateFunc shows that GetManyForUpdate in a
// transaction holds the row until commit: a concurrent UpdateFunc waits,
// and then sees the transaction's write.
func TestGetManyLockBlocksUpdateFunc(t *testing.T) {
	db, schema := mustOpen(t, nil)
	ctx := t.Context()
	s, _ := batcher(t, db, "locked")
	seed(t, s, "a", "b")

	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())

	var seen persist.Record
	done := make(chan error, 1)
	err = db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("locked")
		if err != nil {
			return err
		}
		b := ts.(persist.Batcher)
		got, err := b.GetManyForUpdate(ctx, []string{"b", "a"})
		if err != nil {
			return err
		}
		go func() {
			_, err := s.UpdateFunc(ctx, "a", func(cur persist.Record) (json.RawMessage, error) {
				seen = cur
				return []byte(`{"by":"update_func"}`), nil
			})
			done <- err
		}()
		// Wait until the UpdateFunc is blocked on the row lock.
		for {
			var waiting int
			err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%"+schema+"%FOR UPDATE%'").Scan(&waiting)
			if err != nil {
				return err
			}
			if waiting > 0 {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("UpdateFunc finished while the row was locked: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		_, err = b.PutMany(ctx, []persist.Record{{ID: "a", Data: []byte(`{"by":"tx"}`), Revision: got[1].Revision}})
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("UpdateFunc: %v", err)
	}
	if string(seen.Data) != `{"by": "tx"}` {
		t.Errorf("UpdateFunc saw %s, want the transaction's write", seen.Data)
	}
}

// TestGetManyLocksInIDOrder checks the statements GetMany locks with, for
// few ids and for many: rows sorted by id in byte order before FOR UPDATE.
func TestGetManyLocksInIDOrder(t *testing.T) {
	db, _ := mustOpen(t, nil)
	s, _ := batcher(t, db, "order")
	for _, n := range []int{1, 3, 65} {
		q := postgres.GetManySQL(s.(*postgres.Store), make([]string, n), true)
		if !strings.HasSuffix(q, `ORDER BY id COLLATE "C" FOR UPDATE`) {
			t.Errorf("GetMany lock statement for %d ids %q does not lock in id order", n, q)
		}
	}
}
