package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/persistkit/persist"
)

// BenchmarkLockedRMW compares transactions that lock, read and write n
// records: with one GetMany and one PutMany, and with one UpdateFunc per
// record, in the same run. One client, so the ratio is the round trips and
// server work saved.
func BenchmarkLockedRMW(b *testing.B) {
	db, _ := mustOpen(b, nil)
	ctx := context.Background()
	s := mustStore(b, db, "rmw")
	all := []string{"org/a", "team/b", "principal/c"}
	for _, id := range all {
		if _, err := s.Put(ctx, persist.Record{ID: id, Data: []byte(`{"spent":0,"holds":{"1":5}}`)}); err != nil {
			b.Fatal(err)
		}
	}
	next := []byte(`{"spent":1,"holds":{"1":5}}`)
	tx := func(b *testing.B, f func(ts persist.Store) error) {
		for b.Loop() {
			err := db.Tx(ctx, func(tx persist.Tx) error {
				ts, err := tx.Store("rmw")
				if err != nil {
					return err
				}
				return f(ts)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, n := range []int{1, 3} {
		ids := all[:n]
		b.Run(fmt.Sprintf("records=%d/batcher", n), func(b *testing.B) {
			tx(b, func(ts persist.Store) error {
				bt := ts.(persist.Batcher)
				recs, err := bt.GetManyForUpdate(ctx, ids)
				if err != nil {
					return err
				}
				for i := range recs {
					recs[i].Data = next
				}
				_, err = bt.PutMany(ctx, recs)
				return err
			})
		})
		b.Run(fmt.Sprintf("records=%d/update_func", n), func(b *testing.B) {
			tx(b, func(ts persist.Store) error {
				for _, id := range ids {
					if _, err := ts.UpdateFunc(ctx, id, func(persist.Record) (json.RawMessage, error) { return next, nil }); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}
