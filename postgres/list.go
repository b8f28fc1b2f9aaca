package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
)

// A listing reads a page per round trip. Pages are read whole and the
// connection released before the caller sees a record, so a loop body may
// use the database freely (even inside a transaction) and memory is
// bounded by one page. The first page is pageSize rows; each later one is
// sized from the documents read so far to hold about pageBytes, between
// minPage and maxPage rows: fewer round trips for small documents (a
// migration's verification read a million 274-byte documents back 4 %
// faster with pages of 5000), and a bound on memory for large ones.
const (
	pageSize  = 500
	pageBytes = 2 << 20
	minPage   = 10
	maxPage   = 5000
)

// nextPage sizes the page after ones that held rows rows of bytes bytes.
func nextPage(rows, bytes int) int {
	if rows == 0 || bytes == 0 {
		return maxPage
	}
	return min(max(pageBytes/max(bytes/rows, 1), minPage), maxPage)
}

// List returns the records in insertion order, a page at a time. Nothing is
// read until the iterator is ranged over. If opts.After names a missing
// record the iterator yields an error matching [persist.ErrNotFound].
func (s *Store) List(ctx context.Context, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return s.scan(ctx, "list", nil, false, opts)
}

// Query is List restricted to records whose top-level fields equal the
// filter's, evaluated as data @> filter so that the GIN index serves it on
// a DB with [Config.QueryIndex]; without the index it scans. A filtered
// Query is one statement, streamed like [Store.Find], so each match is
// read once. jsonb
// compares numbers by value (1 equals 1.0) and never across types, and a
// null field is distinct from a missing one. A filter that is not an object
// of scalars with valid keys yields [persist.ErrInvalid].
func (s *Store) Query(ctx context.Context, filter json.RawMessage, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return s.scan(ctx, "query", filter, true, opts)
}

type pageRow struct {
	rec persist.Record
	seq int64
}

// pages recycles page buffers: a page is only read between two queries, and
// records are yielded by value, so a buffer can serve the next iterator.
var pages = sync.Pool{New: func() any { s := make([]pageRow, 0, pageSize); return &s }}

func (s *Store) scan(ctx context.Context, op string, filter json.RawMessage, isQuery bool, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	return func(yield func(persist.Record, error) bool) {
		ctx, yield, end := observe.Iter(&s.db.obs, ctx, op, s.t.name, yield)
		defer end()
		if err := s.enter(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
			return
		}
		o, err := s.in().List(op, opts)
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		limit, after, order := o.Limit, o.After, o.Order
		byID := order == persist.ByID
		sql := s.t.sqlList
		if byID {
			sql = s.t.sqlListByID
		}
		var filterArg []byte
		if isQuery {
			fields, err := s.in().Filter(op, filter)
			if err != nil {
				yield(persist.Record{}, err)
				return
			}
			if len(fields) > 0 {
				filterArg = filter
				sql = s.t.sqlQuery
				if byID {
					sql = s.t.sqlQueryByID
				}
			}
		}

		// The cursor is the last seq in insertion order and the last id
		// in id order, where After is a position and need not exist.
		var cursor any = int64(math.MinInt64)
		if byID {
			cursor = after
		} else if after != "" {
			var last int64
			err := s.do(ctx, op, after, true, func(ctx context.Context, q querier) error {
				err := q.QueryRow(ctx, s.t.sqlSeq, after).Scan(&last)
				if errors.Is(err, pgx.ErrNoRows) {
					return &persist.Error{Op: op, Table: s.t.name, ID: after,
						Err: fmt.Errorf("%w: after names a record that does not exist", persist.ErrNotFound)}
				}
				return err
			})
			if err != nil {
				yield(persist.Record{}, err)
				return
			}
			cursor = last
		}

		if filterArg != nil {
			// A filtered listing is one statement, read once: paging it
			// would run the filter (and sort its matches) again for every
			// page. LIMIT NULL is no limit.
			if byID && after == "" {
				sql = strings.Replace(sql, `COLLATE "C" > $1`, `COLLATE "C" >= $1`, 1)
			}
			var lim any
			if limit > 0 {
				lim = int64(limit)
			}
			s.stream(ctx, op, sql, []any{pgx.QueryExecModeCacheDescribe, cursor, lim, filterArg}, yield)
			return
		}
		remaining := limit
		buf := pages.Get().(*[]pageRow)
		page := (*buf)[:0]
		defer func() {
			clear(page[:cap(page)]) // drop references to the records' data
			*buf = page[:0]
			pages.Put(buf)
		}()
		size := pageSize
		var rowsRead, bytesRead int
		for first := after == ""; ; first = false {
			n := size
			if limit > 0 && remaining < n {
				n = remaining
			}
			sql := sql
			if byID && first {
				// The empty id is the smallest and a table written by
				// the earlier portal may hold it, so the first page
				// includes it.
				sql = strings.Replace(sql, `COLLATE "C" > $1`, `COLLATE "C" >= $1`, 1)
			}
			err := s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
				page = page[:0]
				var rows pgx.Rows
				var err error
				if filterArg != nil {
					// A cached prepared statement soon gets a generic plan,
					// which cannot see how selective the filter is. An
					// unnamed statement is planned with the actual filter;
					// the cached description keeps it to one round trip.
					rows, err = q.Query(ctx, sql, pgx.QueryExecModeCacheDescribe, cursor, n, filterArg)
				} else {
					rows, err = q.Query(ctx, sql, cursor, n)
				}
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var r pageRow
					var data []byte
					if err := rows.Scan(&r.rec.ID, &r.seq, &data, &r.rec.Revision, &r.rec.Created, &r.rec.Updated); err != nil {
						return err
					}
					r.rec.Data = data
					page = append(page, r)
				}
				return rows.Err()
			})
			if err != nil {
				yield(persist.Record{}, err)
				return
			}
			for i := range page {
				bytesRead += len(page[i].rec.Data)
				if !yield(utc(page[i].rec), nil) {
					return
				}
			}
			if len(page) < n {
				return
			}
			rowsRead += len(page)
			size = nextPage(rowsRead, bytesRead)
			if byID {
				cursor = page[len(page)-1].rec.ID
			} else {
				cursor = page[len(page)-1].seq
			}
			if limit > 0 {
				remaining -= len(page)
				if remaining <= 0 {
					return
				}
			}
		}
	}
}
