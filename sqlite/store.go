package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
	"github.com/persistkit/persist/internal/jsonx"
)

// Store is one table. It implements [persist.Store]; see there for the
// contract of each method. A Store from [DB.Store] is shared by every
// caller of that name and is safe for concurrent use; one from a
// transaction is valid only until the transaction function returns.
type Store struct {
	db *DB
	t  *table
	tx *tx // nil outside a transaction
}

// Name returns the table name.
func (s *Store) Name() string { return s.t.name }

// Get returns the record, or [persist.ErrNotFound].
func (s *Store) Get(ctx context.Context, id string) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "get", s.t.name, 0)
	defer op.End(&err)
	if err := s.check(ctx, "get", id); err != nil {
		return persist.Record{}, err
	}
	if err := s.in().ID("get", id); err != nil {
		return persist.Record{}, err
	}
	rec := persist.Record{ID: id}
	err = s.run(ctx, "get", id, func(ctx context.Context) error {
		var row *sql.Row
		if s.tx != nil {
			row = s.tx.sqlTx.QueryRowContext(ctx, s.t.get, id)
		} else {
			row = s.t.getR.QueryRowContext(ctx, id)
		}
		return s.scanCurrent(row, "get", &rec)
	})
	if err != nil {
		return persist.Record{}, err
	}
	return rec, nil
}

// Put creates or replaces the record. A non-zero rec.Revision must equal
// the stored revision, else [persist.ErrConflict].
func (s *Store) Put(ctx context.Context, rec persist.Record) (persist.Record, error) {
	return s.writeNew(ctx, "put", rec)
}

// Insert creates the record, or fails with [persist.ErrConflict] if the id
// exists.
func (s *Store) Insert(ctx context.Context, rec persist.Record) (persist.Record, error) {
	return s.writeNew(ctx, "insert", rec)
}

// writeNew is Put and Insert: the checks, then one statement that writes
// the row, or writes none when the id exists (insert) or the revision
// precondition fails (put), and returns its revision and created time.
func (s *Store) writeNew(ctx context.Context, op string, rec persist.Record) (_ persist.Record, err error) {
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.checkWrite(ctx, op, rec.ID); err != nil {
		return persist.Record{}, err
	}
	rec, err = s.in().New(op, rec)
	if err != nil {
		return persist.Record{}, err
	}
	id, data, now := rec.ID, string(rec.Data), time.Now().UnixMicro()
	out := persist.Record{ID: id, Data: rec.Data, Updated: fromMicros(now)}
	err = s.run(ctx, op, id, func(ctx context.Context) error {
		var row *sql.Row
		switch {
		case op == "insert":
			row = s.row(ctx, s.t.insertS, s.t.insert, id, data, now)
		case rec.Revision != 0:
			row = s.row(ctx, s.t.putRevS, s.t.putRev, data, now, id, rec.Revision)
		default:
			row = s.row(ctx, s.t.putS, s.t.put, id, data, now)
		}
		var created int64
		err := row.Scan(&out.Revision, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows) && op == "insert":
			return &persist.Error{Op: op, Table: s.t.name, ID: id, Err: fmt.Errorf("%w: id already exists", persist.ErrConflict)}
		case errors.Is(err, sql.ErrNoRows):
			return &persist.Error{Op: op, Table: s.t.name, ID: id, Err: fmt.Errorf("%w: revision %d is not the stored revision", persist.ErrConflict, rec.Revision)}
		}
		out.Created = fromMicros(created)
		return err
	})
	if err != nil {
		return persist.Record{}, err
	}
	return out, nil
}

// Update merges patch.Data into the stored object, key by key.
func (s *Store) Update(ctx context.Context, patch persist.Record) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "update", s.t.name, 0)
	defer op.End(&err)
	id := patch.ID
	if err := s.checkWrite(ctx, "update", id); err != nil {
		return persist.Record{}, err
	}
	patch, err = s.in().Patch("update", patch)
	if err != nil {
		return persist.Record{}, err
	}
	var out persist.Record
	err = s.run(ctx, "update", id, func(ctx context.Context) error {
		return s.inTx(ctx, func(x execer) error {
			cur := persist.Record{ID: id}
			if err := s.scanCurrent(x.QueryRowContext(ctx, s.t.get, id), "update", &cur); err != nil {
				return err
			}
			if patch.Revision != 0 && patch.Revision != cur.Revision {
				return &persist.Error{Op: "update", Table: s.t.name, ID: id, Err: fmt.Errorf("%w: revision %d is not the stored revision %d", persist.ErrConflict, patch.Revision, cur.Revision)}
			}
			merged, err := jsonx.Merge(cur.Data, patch.Data)
			if err != nil {
				// The patch passed, so the stored document is one that
				// persist does not accept, left by an earlier writer.
				return s.in().Stored("update", id, err)
			}
			out, err = s.write(ctx, x, id, merged)
			return err
		})
	})
	if err != nil {
		return persist.Record{}, err
	}
	return out, nil
}

// UpdateFunc atomically replaces the record's data with what fn returns.
// It holds the writer connection while fn runs, so fn should be quick.
func (s *Store) UpdateFunc(ctx context.Context, id string, fn persist.UpdateFunc) (_ persist.Record, err error) {
	ctx, op := s.db.obs.Start(ctx, "update_func", s.t.name, 0)
	defer op.End(&err)
	if err := s.checkWrite(ctx, "update_func", id); err != nil {
		return persist.Record{}, err
	}
	if err := s.in().Func("update_func", id, fn); err != nil {
		return persist.Record{}, err
	}
	var out persist.Record
	err = s.run(ctx, "update_func", id, func(ctx context.Context) error {
		return s.inTx(ctx, func(x execer) error {
			cur := persist.Record{ID: id}
			if err := s.scanCurrent(x.QueryRowContext(ctx, s.t.get, id), "update_func", &cur); err != nil {
				return err
			}
			next, err := fn(cur)
			if err != nil {
				return &persist.Error{Op: "update_func", Table: s.t.name, ID: id, Err: err}
			}
			data, err := s.in().Returned("update_func", id, next)
			if err != nil {
				return err
			}
			out, err = s.write(ctx, x, id, data)
			return err
		})
	})
	if err != nil {
		return persist.Record{}, err
	}
	return out, nil
}

// Delete removes the record and reports whether it existed.
func (s *Store) Delete(ctx context.Context, id string) (_ bool, err error) {
	ctx, op := s.db.obs.Start(ctx, "delete", s.t.name, 0)
	defer op.End(&err)
	if err := s.checkWrite(ctx, "delete", id); err != nil {
		return false, err
	}
	if err := s.in().ID("delete", id); err != nil {
		return false, err
	}
	var n int64
	err = s.run(ctx, "delete", id, func(ctx context.Context) error {
		var res sql.Result
		var err error
		if s.tx != nil {
			if st := s.txStmt(ctx, s.t.delS); st != nil {
				res, err = st.ExecContext(ctx, id)
			} else {
				res, err = s.tx.sqlTx.ExecContext(ctx, s.t.del, id)
			}
		} else {
			res, err = s.t.delS.ExecContext(ctx, id)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n > 0, err
}

// Count returns the number of records.
func (s *Store) Count(ctx context.Context) (_ int64, err error) {
	ctx, op := s.db.obs.Start(ctx, "count", s.t.name, 0)
	defer op.End(&err)
	if err := s.check(ctx, "count", ""); err != nil {
		return 0, err
	}
	var n int64
	err = s.run(ctx, "count", "", func(ctx context.Context) error {
		return s.reader().QueryRowContext(ctx, s.t.count).Scan(&n)
	})
	return n, err
}

// Clear deletes every record and returns how many there were.
func (s *Store) Clear(ctx context.Context) (_ int64, err error) {
	ctx, op := s.db.obs.Start(ctx, "clear", s.t.name, 0)
	defer op.End(&err)
	if err := s.checkWrite(ctx, "clear", ""); err != nil {
		return 0, err
	}
	var n int64
	err = s.run(ctx, "clear", "", func(ctx context.Context) error {
		res, err := s.writer().ExecContext(ctx, s.t.clear)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// check is the entry test of every operation: a closed DB or a finished
// transaction is ErrClosed, a done context its error, before any work.
func (s *Store) check(ctx context.Context, op, id string) error {
	return check.Enter(ctx, s.db.closed.Load() || s.tx != nil && s.tx.done.Load(), op, s.t.name, id)
}

// in checks the input of the table's operations; SQLite stores documents
// as compact text.
func (s *Store) in() check.Table {
	return check.Table{Name: s.t.name, Compact: true, IDField: s.db.idField}
}

// checkWrite is check for the operations that write, which a read-only DB
// refuses with [persist.ErrInvalid].
func (s *Store) checkWrite(ctx context.Context, op, id string) error {
	if err := s.check(ctx, op, id); err != nil {
		return err
	}
	if s.db.readOnly {
		return errReadOnly(op, s.t.name, id)
	}
	return nil
}

// run executes one operation and maps its error, creating the table
// first if this is its first use (see [DB.ensure]). Inside a transaction
// nothing is retried here: the whole transaction is.
func (s *Store) run(ctx context.Context, op, id string, fn func(ctx context.Context) error) error {
	if err := s.db.ensure(ctx, op, s); err != nil {
		return err
	}
	var err error
	if s.tx != nil {
		err = fn(ctx)
	} else {
		err = s.db.retry(ctx, op, fn)
	}
	return s.db.wrap(ctx, op, s.t.name, id, err)
}

// row runs a single-row statement: the prepared one, or its text inside
// a transaction.
func (s *Store) row(ctx context.Context, st *sql.Stmt, q string, args ...any) *sql.Row {
	if s.tx != nil {
		if st = s.txStmt(ctx, st); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
		return s.tx.sqlTx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// txStmt returns the writer's prepared statement st for use inside the
// transaction, or nil when the table has none yet. The writer pool holds
// one connection, on which st is already prepared, so the transaction
// reuses it instead of compiling the statement, and the triggers coded
// into it, on every call.
func (s *Store) txStmt(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if st == nil {
		return nil
	}
	return s.tx.sqlTx.StmtContext(ctx, st)
}

// reader is where reads go: the reader pool, or the transaction, which
// must see its own writes.
func (s *Store) reader() execer {
	if s.tx != nil {
		return s.tx.sqlTx
	}
	return s.db.readers
}

// writer is where single-statement writes go.
func (s *Store) writer() execer {
	if s.tx != nil {
		return s.tx.sqlTx
	}
	return s.db.writer
}

// inTx runs fn in a writer transaction (BEGIN IMMEDIATE), or in the
// enclosing one. A panic in fn rolls back and propagates.
func (s *Store) inTx(ctx context.Context, fn func(x execer) error) error {
	if s.tx != nil {
		return fn(s.tx.sqlTx)
	}
	tx, err := s.db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	return tx.Commit()
}

// scanCurrent reads a record selected by table.get into rec.
func (s *Store) scanCurrent(row *sql.Row, op string, rec *persist.Record) error {
	var c, u int64
	err := row.Scan((*[]byte)(&rec.Data), &rec.Revision, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return &persist.Error{Op: op, Table: s.t.name, ID: rec.ID, Err: persist.ErrNotFound}
	}
	rec.Created, rec.Updated = fromMicros(c), fromMicros(u)
	return err
}

// write stores new data for an existing record inside a transaction.
func (s *Store) write(ctx context.Context, x execer, id string, data []byte) (persist.Record, error) {
	now := time.Now().UnixMicro()
	out := persist.Record{ID: id, Data: data, Updated: fromMicros(now)}
	var created int64
	if err := x.QueryRowContext(ctx, s.t.update, string(data), now, id).Scan(&out.Revision, &created); err != nil {
		return persist.Record{}, err
	}
	out.Created = fromMicros(created)
	return out, nil
}

// fromMicros converts a stored timestamp; records carry UTC times at
// microsecond precision on every backend.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
