package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

// Store is one table of JSON documents in PostgreSQL. Obtain it from
// [DB.Store] or, inside a transaction, from the [persist.Tx].
type Store struct {
	db *DB
	t  *table
	tx *txState // nil outside a transaction
}

var _ persist.Store = (*Store)(nil)

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Name returns the table name.
func (s *Store) Name() string { return s.t.name }

// do runs fn against the pool, with retries, or against the transaction,
// without: a failure inside a transaction aborts it, and [DB.Tx] decides
// whether to run the whole transaction again. safe is passed to mapError.
func (s *Store) do(ctx context.Context, op, id string, safe bool, fn func(ctx context.Context, q querier) error) error {
	db := s.db
	if s.tx != nil {
		s.tx.mu.Lock()
		defer s.tx.mu.Unlock()
		if s.tx.done || db.closed.Load() {
			return &persist.Error{Op: op, Table: s.t.name, ID: id, Err: persist.ErrClosed}
		}
		if err := ctx.Err(); err != nil {
			return &persist.Error{Op: op, Table: s.t.name, ID: id, Err: err}
		}
		if err := s.tx.ensure(ctx, s.t); err != nil {
			return db.mapError(ctx, op, s.t.name, id, err, true)
		}
		// The transaction has not committed, so repeating it is safe.
		return s.check(db.mapError(ctx, op, s.t.name, id, fn(ctx, s.tx.tx), true))
	}
	if err := db.ensure(ctx, op, s.t); err != nil {
		return err
	}
	return s.check(db.run(ctx, op, s.t.name, id, safe, func(ctx context.Context) error { return fn(ctx, db.pool) }))
}

// check notices a table dropped behind this DB's back, so the next call
// creates it again instead of failing forever.
func (s *Store) check(err error) error {
	var pe *pgconn.PgError
	if err != nil && errors.As(err, &pe) && pe.Code == "42P01" {
		s.t.ready.Store(false)
	}
	return err
}

// inTx runs fn in its own transaction, or in the enclosing one. Failures
// before COMMIT are retried when transient; a lost connection during COMMIT
// is not, since the commit may have happened.
func (s *Store) inTx(ctx context.Context, op, id string, fn func(ctx context.Context, q querier) error) error {
	if s.tx != nil {
		return s.do(ctx, op, id, true, fn)
	}
	db := s.db
	return s.do(ctx, op, id, true, func(ctx context.Context, _ querier) error {
		tx, err := db.beginLazy(ctx)
		if err != nil {
			return err
		}
		defer tx.release()
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return db.mapError(ctx, op, s.t.name, id, err, false)
		}
		return nil
	})
}

// enter is the first thing every operation does: a closed DB or finished
// transaction is ErrClosed, then a done context is its error, before the
// input is looked at.
func (s *Store) enter(ctx context.Context, op, id string) error {
	closed := s.db.closed.Load()
	if !closed && s.tx != nil {
		s.tx.mu.Lock()
		closed = s.tx.done
		s.tx.mu.Unlock()
	}
	return check.Enter(ctx, closed, op, s.t.name, id)
}

// in checks the input of the table's operations; jsonb normalises
// documents itself, so they are kept as given.
func (s *Store) in() check.Table { return check.Table{Name: s.t.name, IDField: s.db.idField} }

func (s *Store) notFound(op, id string) error {
	return &persist.Error{Op: op, Table: s.t.name, ID: id, Err: persist.ErrNotFound}
}

// Get returns the record with the given id, or [persist.ErrNotFound].
func (s *Store) Get(ctx context.Context, id string) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "get", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "get", id); err != nil {
		return persist.Record{}, err
	}
	if err := s.in().ID("get", id); err != nil {
		return persist.Record{}, err
	}
	rec := persist.Record{ID: id}
	err = s.do(ctx, "get", id, true, func(ctx context.Context, q querier) error {
		var data []byte
		err := q.QueryRow(ctx, s.t.sqlGet, id).Scan(&data, &rec.Revision, &rec.Created, &rec.Updated)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.notFound("get", id)
		}
		rec.Data = data
		return err
	})
	if err != nil {
		return persist.Record{}, err
	}
	return utc(rec), nil
}

// Put creates or replaces a record. An empty ID is generated; a non-zero
// Revision must equal the stored one, else [persist.ErrConflict]. Without a
// revision Put is idempotent and retried after a lost connection.
func (s *Store) Put(ctx context.Context, rec persist.Record) (persist.Record, error) {
	if rec.Revision == 0 {
		return s.writeNew(ctx, "put", rec, s.t.sqlPutUpsert)
	}
	return s.writeNew(ctx, "put", rec, s.t.sqlPutRev, rec.Revision)
}

// Insert creates a record, or fails with [persist.ErrConflict] if the id
// exists. An empty ID is generated.
func (s *Store) Insert(ctx context.Context, rec persist.Record) (persist.Record, error) {
	return s.writeNew(ctx, "insert", rec, s.t.sqlInsert)
}

// writeNew is Put and Insert: the checks, then one statement taking the
// id, the data, any further arguments and last the time of the write,
// returning the row's revision and times. No row is a failed revision
// precondition. Only a write without a precondition is repeated after a
// lost connection: an insert that had landed would then fail, and a
// revision would no longer match.
func (s *Store) writeNew(ctx context.Context, op string, rec persist.Record, sql string, more ...any) (_ persist.Record, err error) {
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.enter(ctx, op, rec.ID); err != nil {
		return persist.Record{}, err
	}
	rec, err = s.in().New(op, rec)
	if err != nil {
		return persist.Record{}, err
	}
	args := append(append(make([]any, 0, 4), rec.ID, []byte(rec.Data)), more...)
	args = append(args, writeTime())
	out := persist.Record{ID: rec.ID, Data: rec.Data}
	err = s.do(ctx, op, rec.ID, op == "put" && rec.Revision == 0, func(ctx context.Context, q querier) error {
		err := q.QueryRow(ctx, sql, args...).Scan(&out.Revision, &out.Created, &out.Updated)
		if errors.Is(err, pgx.ErrNoRows) {
			return &persist.Error{Op: op, Table: s.t.name, ID: rec.ID,
				Err: fmt.Errorf("%w: revision %d is not the stored revision", persist.ErrConflict, rec.Revision)}
		}
		return err
	})
	if err != nil {
		return persist.Record{}, err
	}
	return utc(out), nil
}

// Update merges patch.Data into the stored object with jsonb's ||, a
// shallow merge in which each top-level key of the patch replaces the
// stored one. It returns [persist.ErrNotFound] if the record is missing and
// [persist.ErrConflict] if a non-zero patch.Revision does not match.
func (s *Store) Update(ctx context.Context, patch persist.Record) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "update", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "update", patch.ID); err != nil {
		return persist.Record{}, err
	}
	patch, err = s.in().Patch("update", patch)
	if err != nil {
		return persist.Record{}, err
	}
	out := persist.Record{ID: patch.ID}
	now := writeTime()
	err = s.do(ctx, "update", patch.ID, patch.Revision == 0, func(ctx context.Context, q querier) error {
		var data []byte
		err := q.QueryRow(ctx, s.t.sqlUpdate, patch.ID, []byte(patch.Data), patch.Revision, now).
			Scan(&data, &out.Revision, &out.Created, &out.Updated)
		if errors.Is(err, pgx.ErrNoRows) {
			if patch.Revision == 0 {
				return s.notFound("update", patch.ID)
			}
			var rev int64
			err := q.QueryRow(ctx, s.t.sqlRevision, patch.ID).Scan(&rev)
			if errors.Is(err, pgx.ErrNoRows) {
				return s.notFound("update", patch.ID)
			}
			if err != nil {
				return err
			}
			return &persist.Error{Op: "update", Table: s.t.name, ID: patch.ID,
				Err: fmt.Errorf("%w: revision %d is not the stored revision %d", persist.ErrConflict, patch.Revision, rev)}
		}
		out.Data = data
		return err
	})
	if err != nil {
		return persist.Record{}, err
	}
	return utc(out), nil
}

// UpdateFunc reads the record with SELECT ... FOR UPDATE, calls fn and
// writes its result, all in one transaction, so no concurrent write is
// lost. fn may run more than once if the transaction is retried. An error
// from fn aborts the update and is returned wrapped in a [*persist.Error].
func (s *Store) UpdateFunc(ctx context.Context, id string, fn persist.UpdateFunc) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "update_func", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "update_func", id); err != nil {
		return persist.Record{}, err
	}
	if err := s.in().Func("update_func", id, fn); err != nil {
		return persist.Record{}, err
	}
	var out persist.Record
	err = s.inTx(ctx, "update_func", id, func(ctx context.Context, q querier) error {
		cur := persist.Record{ID: id}
		var data []byte
		err := q.QueryRow(ctx, s.t.sqlLock, id).Scan(&data, &cur.Revision, &cur.Created, &cur.Updated)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.notFound("update_func", id)
		}
		if err != nil {
			return err
		}
		cur.Data = data
		next, err := fn(utc(cur))
		if err != nil {
			return &persist.Error{Op: "update_func", Table: s.t.name, ID: id, Err: err}
		}
		if next, err = s.in().Returned("update_func", id, next); err != nil {
			return err
		}
		out = persist.Record{ID: id, Data: next}
		return q.QueryRow(ctx, s.t.sqlWrite, id, []byte(next), writeTime()).Scan(&out.Revision, &out.Created, &out.Updated)
	})
	if err != nil {
		return persist.Record{}, err
	}
	return utc(out), nil
}

// Delete removes the record and reports whether it existed.
func (s *Store) Delete(ctx context.Context, id string) (_ bool, err error) {
	ctx, op := s.db.obs.Start(ctx, "delete", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "delete", id); err != nil {
		return false, err
	}
	if err := s.in().ID("delete", id); err != nil {
		return false, err
	}
	var n int64
	err = s.do(ctx, "delete", id, false, func(ctx context.Context, q querier) error {
		tag, err := q.Exec(ctx, s.t.sqlDelete, id)
		n = tag.RowsAffected()
		return err
	})
	return n > 0, err
}

// Count returns the number of records.
func (s *Store) Count(ctx context.Context) (_ int64, err error) {
	ctx, op := s.db.obs.Start(ctx, "count", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "count", ""); err != nil {
		return 0, err
	}
	var n int64
	err = s.do(ctx, "count", "", true, func(ctx context.Context, q querier) error {
		return q.QueryRow(ctx, s.t.sqlCount).Scan(&n)
	})
	return n, err
}

// Clear deletes every record and returns how many there were.
func (s *Store) Clear(ctx context.Context) (_ int64, err error) {
	ctx, op := s.db.obs.Start(ctx, "clear", s.t.name, 0)
	defer op.End(&err)
	if err := s.enter(ctx, "clear", ""); err != nil {
		return 0, err
	}
	var n int64
	err = s.do(ctx, "clear", "", false, func(ctx context.Context, q querier) error {
		tag, err := q.Exec(ctx, s.t.sqlClear)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func utc(r persist.Record) persist.Record {
	r.Created = r.Created.UTC()
	r.Updated = r.Updated.UTC()
	return r
}
