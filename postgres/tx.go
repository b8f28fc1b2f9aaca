package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/retry"
)

// txState is one attempt of a [DB.Tx]. Its mutex serialises the stores'
// use of the single transaction, which is not safe for concurrent use.
type txState struct {
	db   *DB
	tx   *lazyTx
	mu   sync.Mutex
	done bool

	// created lists the tables this transaction created or upgraded; they
	// count as ready for the whole DB only once it commits.
	created []*table
}

// ensure creates or upgrades t inside the transaction itself, on its own
// connection: taking a second pooled connection could wait forever once
// every connection is held by a transaction doing the same. Callers hold
// t.mu (the txState's).
func (t *txState) ensure(ctx context.Context, tbl *table) error {
	if tbl.ready.Load() {
		return nil
	}
	for _, c := range t.created {
		if c == tbl {
			return nil
		}
	}
	if err := t.db.ensureTx(ctx, t.tx, tbl); err != nil {
		return err
	}
	t.created = append(t.created, tbl)
	return nil
}

// Store returns the named table inside the transaction. A table used for
// the first time is created inside the transaction, so a rollback removes
// it again.
func (t *txState) Store(name string) (persist.Store, error) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done {
		return nil, &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: transaction has ended", persist.ErrClosed)}
	}
	s, err := t.db.store(name, t)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t *txState) finish() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// Tx runs fn in one transaction (READ COMMITTED, PostgreSQL's default)
// across any number of stores. If fn returns an error the transaction is
// rolled back and the error returned unchanged; otherwise it is committed.
// When a statement fails with a serialization failure, a deadlock or a lost
// connection before COMMIT, the transaction is rolled back and fn runs
// again under the retry policy, so fn must not have side effects outside
// the transaction. A lost connection during COMMIT is not retried: the
// commit may have happened.
//
// A store used for the first time on this DB is created inside the
// transaction.
func (db *DB) Tx(ctx context.Context, fn func(tx persist.Tx) error) (err error) {
	ctx, op := db.obs.Start(ctx, "tx", "", 0)
	defer op.End(&err)
	if db.closed.Load() {
		return &persist.Error{Op: "tx", Err: persist.ErrClosed}
	}
	if fn == nil {
		return &persist.Error{Op: "tx", Err: fmt.Errorf("%w: fn is nil", persist.ErrInvalid)}
	}
	if err := ctx.Err(); err != nil {
		return &persist.Error{Op: "tx", Err: err}
	}
	return retry.Do(ctx, db.retry, db.log, "tx", func(ctx context.Context) error {
		return db.reconnecting(ctx, "tx", func(ctx context.Context) error { return db.txOnce(ctx, fn) })
	})
}

func (db *DB) txOnce(ctx context.Context, fn func(tx persist.Tx) error) (err error) {
	pgtx, err := db.beginLazy(ctx)
	if err != nil {
		return db.mapError(ctx, "tx", "", "", err, true)
	}
	defer pgtx.release()
	st := &txState{db: db, tx: pgtx}
	defer func() {
		if !st.done { // fn panicked
			st.finish()
			_ = pgtx.Rollback(ctx)
		}
	}()
	ferr := fn(st)
	st.finish()
	if ferr != nil {
		_ = pgtx.Rollback(ctx)
		return ferr
	}
	if err := pgtx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			return &persist.Error{Op: "tx", Err: fmt.Errorf("transaction was aborted by an earlier error: %w", err)}
		}
		return db.mapError(ctx, "tx", "", "", err, false)
	}
	for _, t := range st.created {
		t.ready.Store(true)
	}
	return nil
}
