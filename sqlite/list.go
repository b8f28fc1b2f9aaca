package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
)

// pageSize is how many rows one query of a listing reads. Between pages no
// connection or lock is held, so the caller's loop body may write.
const pageSize = 256

// List returns the records in insertion order (or id order), reading
// lazily page by page.
func (s *Store) List(ctx context.Context, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return s.iterate(ctx, "list", nil, false, opts)
}

// Query is List restricted to records whose top-level fields equal the
// filter's by JSON type and exact value. On a file database it is one
// statement, streamed like [Store.Find].
func (s *Store) Query(ctx context.Context, filter json.RawMessage, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return s.iterate(ctx, "query", filter, true, opts)
}

func (s *Store) iterate(ctx context.Context, op string, filter json.RawMessage, isQuery bool, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return func(yield func(persist.Record, error) bool) {
		ctx, yield, end := observe.Iter(&s.db.obs, ctx, op, s.t.name, yield)
		defer end()
		if err := s.check(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
			return
		}
		o, err := s.in().List(op, opts)
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		var cond string
		var args []any
		if isQuery {
			fields, err := s.in().Filter(op, filter)
			if err != nil {
				yield(persist.Record{}, err)
				return
			}
			if cond, args, err = filterSQL(fields); err != nil {
				yield(persist.Record{}, errInvalid(op, s.t.name, "", "%v", err))
				return
			}
		}
		// The FROM clause is added by page: a table's from is known only
		// once its first use has run (see DB.ensure).
		var q string
		var lastSeq int64 = math.MinInt64
		lastID := o.After
		if o.Order == persist.ByID {
			q += ` WHERE id > ?` + cond + ` ORDER BY id LIMIT ?`
		} else {
			q += ` WHERE seq > ?` + cond + ` ORDER BY seq LIMIT ?`
			if o.After != "" {
				err := s.run(ctx, op, o.After, func(ctx context.Context) error {
					err := s.reader().QueryRowContext(ctx, s.t.getSeq, o.After).Scan(&lastSeq)
					if errors.Is(err, sql.ErrNoRows) {
						return &persist.Error{Op: op, Table: s.t.name, ID: o.After, Err: fmt.Errorf("%w: after names a record that does not exist", persist.ErrNotFound)}
					}
					return err
				})
				if err != nil {
					yield(persist.Record{}, err)
					return
				}
			}
		}
		if isQuery && (s.db.path != "" || s.tx != nil) {
			// A filtered listing of a file database is one statement, read
			// once (see Find), not a walk of the seq index in pages.
			q := q
			if o.Order == persist.ByID && o.After == "" {
				q = strings.Replace(q, `id > ?`, `id >= ?`, 1)
			}
			var cursor any = lastSeq
			if o.Order == persist.ByID {
				cursor = lastID
			}
			limit := -1 // SQLite's "no limit"
			if o.Limit > 0 {
				limit = o.Limit
			}
			full := append(append([]any{cursor}, args...), limit)
			s.stream(ctx, op, q, full, yield)
			return
		}
		left := o.Limit
		page := make([]pageRow, 0, pageSize)
		for first := o.After == ""; ; first = false {
			n := pageSize
			if o.Limit > 0 {
				n = min(n, left)
			}
			var cursor any = lastSeq
			if o.Order == persist.ByID {
				cursor = lastID
			}
			full := make([]any, 0, len(args)+2)
			full = append(append(append(full, cursor), args...), n)
			pq := q
			if o.Order == persist.ByID && first {
				// The empty id is the smallest and a table written by
				// the earlier portal may hold it, so the first page
				// includes it.
				pq = strings.Replace(q, `id > ?`, `id >= ?`, 1)
			}
			var err error
			page, err = s.page(ctx, op, pq, full, page[:0])
			if err != nil {
				yield(persist.Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r.rec, nil) {
					return
				}
			}
			if len(page) < n {
				return
			}
			if o.Limit > 0 {
				if left -= len(page); left == 0 {
					return
				}
			}
			last := page[len(page)-1]
			lastSeq, lastID = last.seq, last.rec.ID
			if err := s.check(ctx, op, ""); err != nil {
				yield(persist.Record{}, err)
				return
			}
		}
	}
}

// pageRow is one row of a page with its position.
type pageRow struct {
	rec persist.Record
	seq int64
}

// page reads one page into buf, retrying transient failures; where is
// the query after its FROM clause.
func (s *Store) page(ctx context.Context, op, where string, args []any, buf []pageRow) ([]pageRow, error) {
	err := s.run(ctx, op, "", func(ctx context.Context) error {
		q := `SELECT id, data, revision, created_at, updated_at, seq FROM ` + s.t.from + where
		buf = buf[:0]
		var rows *sql.Rows
		var err error
		if s.tx != nil {
			rows, err = s.tx.sqlTx.QueryContext(ctx, q, args...)
		} else {
			st, cached, perr := s.t.pageStmt(ctx, s.db.readers, q)
			if perr != nil {
				return perr
			}
			if !cached {
				defer st.Close()
			}
			rows, err = st.QueryContext(ctx, args...)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r pageRow
			var c, u int64
			if err := rows.Scan(&r.rec.ID, (*[]byte)(&r.rec.Data), &r.rec.Revision, &c, &u, &r.seq); err != nil {
				return err
			}
			r.rec.Created, r.rec.Updated = fromMicros(c), fromMicros(u)
			buf = append(buf, r)
		}
		return rows.Err()
	})
	return buf, err
}
