package postgres

import (
	"context"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

var _ persist.WriteMarker = (*DB)(nil)

// MarkWrites marks the present (see [persist.WriteMarker]) with the
// server's current snapshot: the next transaction id to be assigned and
// the transactions in progress. A write is committed by a transaction
// that was given an id, either after the mark (the next id moves on) or
// before it and still in progress then (it leaves the list), so an
// unchanged snapshot means no write was committed. The snapshot covers
// the whole cluster: a write to any database of the server, a
// transaction that ends without writing what the mark covers, or one that
// is rolled back, all report a possible change.
func (db *DB) MarkWrites(ctx context.Context) (changed func(context.Context) (bool, error), release func(), err error) {
	const op = "mark_writes"
	if err := check.Enter(ctx, db.closed.Load(), op, "", ""); err != nil {
		return nil, nil, err
	}
	snapshot := func(ctx context.Context) (string, error) {
		var s string
		err := db.run(ctx, op, "", "", true, func(ctx context.Context) error {
			return db.pool.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&s)
		})
		return s, err
	}
	first, err := snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	changed = func(ctx context.Context) (bool, error) {
		if err := check.Enter(ctx, db.closed.Load(), op, "", ""); err != nil {
			return false, err
		}
		s, err := snapshot(ctx)
		return s != first, err
	}
	return changed, func() {}, nil
}
