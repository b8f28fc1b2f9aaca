package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction whose BEGIN travels in one pipeline with its
// first statement, instead of costing a round trip of its own as
// pgx.Tx's does. On a hot row that round trip is paid by every waiter, and
// a short transaction (the budget package's are four statements) spends a
// fifth of its time on it. A transaction that runs no statement never
// begins, and its commit has nothing to do.
//
// It is not safe for concurrent use; txState serialises its callers.
type lazyTx struct {
	conn  *pgxpool.Conn
	begun bool
}

var _ querier = (*lazyTx)(nil)

// beginLazy takes a connection for a transaction without starting it yet.
func (db *DB) beginLazy(ctx context.Context) (*lazyTx, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &lazyTx{conn: conn}, nil
}

// hasOptions reports whether args start with a pgx query option, which a
// pgx.Batch does not accept; such a first statement begins on its own.
func hasOptions(args []any) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0].(type) {
	case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID, pgx.QueryRewriter:
		return true
	}
	return false
}

// beginWith sends BEGIN and sql in one pipeline and returns the results
// positioned after BEGIN's.
func (t *lazyTx) beginWith(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(sql, args...)
	return t.beginBatch(ctx, b)
}

func (t *lazyTx) beginBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	// From here on the server may be in a transaction whatever the
	// outcome, so commit and rollback must speak to it.
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	return br, nil
}

// beginAlone starts the transaction with a round trip of its own.
func (t *lazyTx) beginAlone(ctx context.Context) error {
	t.begun = true
	_, err := t.conn.Exec(ctx, "begin")
	return err
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	if hasOptions(args) {
		if err := t.beginAlone(ctx); err != nil {
			return pgconn.CommandTag{}, err
		}
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.beginWith(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	if hasOptions(args) {
		if err := t.beginAlone(ctx); err != nil {
			return nil, err
		}
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.beginWith(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return rowOf{rows}
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.begun {
		return t.conn.SendBatch(ctx, b)
	}
	withBegin := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries)+1)}
	withBegin.Queue("begin")
	withBegin.QueuedQueries = append(withBegin.QueuedQueries, b.QueuedQueries...)
	br, err := t.beginBatch(ctx, withBegin)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// Commit commits the transaction if it began. A transaction the server
// had already aborted answers COMMIT with ROLLBACK, which is reported as
// pgx.ErrTxCommitRollback, as pgx.Tx does.
func (t *lazyTx) Commit(ctx context.Context) error {
	if !t.begun {
		return nil
	}
	tag, err := t.conn.Exec(ctx, "commit")
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback rolls the transaction back if it began. A connection left in
// any state but idle is closed by the pool on release, not reused.
func (t *lazyTx) Rollback(ctx context.Context) error {
	if !t.begun {
		return nil
	}
	_, err := t.conn.Exec(ctx, "rollback")
	return err
}

// release returns the connection to the pool; call it once, last.
func (t *lazyTx) release() { t.conn.Release() }

// batchRows closes the pipeline its rows came from when they are closed.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

// rowOf is pgx.Row over rows, as pgx's own QueryRow builds it.
type rowOf struct{ rows pgx.Rows }

func (r rowOf) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch is pgx.BatchResults for a pipeline that failed to start.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
