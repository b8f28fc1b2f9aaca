package budget_test

import (
	"context"

	"github.com/persistkit/persist"
)

// plainDB is a real database whose stores hide every optional interface,
// [persist.Batcher] among them, so that the ledger takes its one record at
// a time path.
type plainDB struct{ persist.DB }

// plainStore has only the methods of [persist.Store].
type plainStore struct{ persist.Store }

type plainTx struct{ tx persist.Tx }

func (db plainDB) Store(name string) (persist.Store, error) { return plain(db.DB.Store(name)) }

func (db plainDB) Tx(ctx context.Context, fn func(tx persist.Tx) error) error {
	return db.DB.Tx(ctx, func(tx persist.Tx) error { return fn(plainTx{tx}) })
}

func (t plainTx) Store(name string) (persist.Store, error) { return plain(t.tx.Store(name)) }

func plain(s persist.Store, err error) (persist.Store, error) {
	if err != nil {
		return nil, err
	}
	return plainStore{s}, nil
}
