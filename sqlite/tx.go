package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/retry"
)

// tx is a transaction on the writer connection.
type tx struct {
	db    *DB
	sqlTx *sql.Tx
	ctx   context.Context // the Tx call's context, for schema changes in Store
	done  atomic.Bool

	mu      sync.Mutex
	stores  map[string]*Store
	created []*table // tables this transaction created or checked
}

// Tx runs fn in one transaction on the writer connection, begun with
// BEGIN IMMEDIATE so that it holds the write lock from the start. If fn
// returns an error or panics, the transaction is rolled back (and the
// panic continues); fn's error is returned unchanged. A transaction that
// fails with a transient error, from fn or from the commit, is run again
// under the retry policy, so fn must have no effects outside it.
//
// fn must use only stores from tx.Store: the DB's own stores would wait for
// the writer connection this transaction holds.
func (db *DB) Tx(ctx context.Context, fn func(tx persist.Tx) error) (err error) {
	ctx, op := db.obs.Start(ctx, "tx", "", 0)
	defer op.End(&err)
	if err := db.check(ctx, "tx"); err != nil {
		return err
	}
	if db.readOnly {
		return errReadOnly("tx", "", "")
	}
	if fn == nil {
		return errInvalid("tx", "", "", "fn is nil")
	}
	var fnErr error
	attempt := func(ctx context.Context) error {
		fnErr = nil
		sqlTx, err := db.writer.BeginTx(ctx, nil)
		if err != nil {
			return db.wrap(ctx, "tx", "", "", err)
		}
		t := &tx{db: db, sqlTx: sqlTx, ctx: ctx, stores: map[string]*Store{}}
		committed := false
		defer func() {
			t.done.Store(true)
			if !committed {
				_ = sqlTx.Rollback()
			}
		}()
		if err := fn(t); err != nil {
			fnErr = err
			return err
		}
		t.done.Store(true)
		if err := sqlTx.Commit(); err != nil {
			return db.wrap(ctx, "tx", "", "", err)
		}
		committed = true
		for _, tbl := range t.created {
			tbl.known.Store(true)
		}
		return nil
	}
	err = retry.Do(ctx, db.policy, db.log, "tx", attempt)
	if err != nil && err == fnErr {
		return err
	}
	return db.wrap(ctx, "tx", "", "", err)
}

// Store returns the named table inside the transaction, creating it (in
// the transaction) on first use.
func (t *tx) Store(name string) (persist.Store, error) {
	if t.done.Load() || t.db.closed.Load() {
		return nil, errClosed("store", name, "")
	}
	if err := ident.Table(name); err != nil {
		return nil, errInvalid("store", "", "", "%v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.stores[name]; s != nil {
		return s, nil
	}
	shared, err := t.db.store(name)
	if err != nil {
		return nil, err
	}
	var tbl *table
	switch {
	case shared.t.ready.Load():
		tbl = shared.t
	case shared.t.known.Load():
		// An earlier transaction created it and committed.
		tbl = shared.t.forTx()
	default:
		// Created inside the transaction: if it rolls back, so does the
		// table. Once it commits, later transactions skip the check, and
		// the DB's own store prepares its statements on first use.
		if err := ensureSchema(t.ctx, t.sqlTx, name, t.db.log); err != nil {
			return nil, t.db.wrap(t.ctx, "store", name, "", err)
		}
		tbl = shared.t.forTx()
		t.created = append(t.created, shared.t)
	}
	s := &Store{db: t.db, t: tbl, tx: t}
	t.stores[name] = s
	return s, nil
}
