package postgres

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
	"github.com/persistkit/persist/internal/query"
)

// A field's place in the order of persist.Query is three expressions, each
// IMMUTABLE so that an index can hold them: its rank (query.Rank, 1 when
// missing), its numeric value (0 unless a number) and its text (” unless a
// string) in byte order. Numbers are jsonb's exact numerics, never
// float8. None is ever NULL, so a row comparison over them orders rows
// exactly as query.Key does in SQLite, and an index on them serves it.
// Paths are SQL text, not parameters, so that such an index matches; their
// keys passed query.ParsePath and hold no quote.

func jsonbSQL(path []string) string {
	var b strings.Builder
	b.WriteString("data")
	for _, k := range path {
		b.WriteString(" -> '" + strings.ReplaceAll(k, "'", "''") + "'")
	}
	return b.String()
}

func rankSQL(path []string) string {
	e := jsonbSQL(path)
	return "(CASE jsonb_typeof(" + e + ") WHEN 'null' THEN 2 WHEN 'boolean' THEN (CASE WHEN " + e +
		" = 'true'::jsonb THEN 4 ELSE 3 END) WHEN 'number' THEN 5 WHEN 'string' THEN 6 WHEN 'array' THEN 7 WHEN 'object' THEN 8 ELSE 1 END)"
}

func numSQL(path []string) string {
	e := jsonbSQL(path)
	return "(CASE WHEN jsonb_typeof(" + e + ") = 'number' THEN (" + e + ")::numeric ELSE 0 END)"
}

func strSQL(path []string) string {
	e := jsonbSQL(path)
	return "((CASE WHEN jsonb_typeof(" + e + ") = 'string' THEN " + e + ` #>> '{}' ELSE '' END) COLLATE "C")`
}

// sortCols are the columns of a sort key: three for a field, seq for
// insertion order.
func sortCols(k query.SortKey) []string {
	if k.Path == nil {
		return []string{"seq"}
	}
	return []string{rankSQL(k.Path), numSQL(k.Path), strSQL(k.Path)}
}

// pgBuilder collects a statement's text and its numbered arguments.
type pgBuilder struct {
	b    strings.Builder
	args []any
}

// arg returns the placeholder of v, cast to typ.
func (w *pgBuilder) arg(v any, typ string) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args)) + "::" + typ
}

func (w *pgBuilder) add(s string) { w.b.WriteString(s) }

// tuple returns the three placeholders of a value's place.
func (w *pgBuilder) tuple(v query.Value) []string {
	num := "0"
	if v.Rank == query.RankNumber {
		num = v.Num
	}
	return []string{w.arg(int(v.Rank), "int"), w.arg(num, "text::numeric"), w.arg(v.Str, "text")}
}

func (w *pgBuilder) eq(path []string, v query.Value) {
	if v.Rank >= query.RankArray {
		w.add("(" + rankSQL(path) + " = " + strconv.Itoa(int(v.Rank)) + " AND " + jsonbSQL(path) + " = " + w.arg(v.Canon, "text::jsonb") + ")")
		return
	}
	t := w.tuple(v)
	w.add("(" + rankSQL(path) + " = " + t[0] + " AND " + numSQL(path) + " = " + t[1] + " AND " + strSQL(path) + " = " + t[2] + ")")
}

func (w *pgBuilder) cond(c query.Cond) {
	switch c.Op {
	case query.Exists:
		w.add(rankSQL(c.Path) + " > 1")
	case query.Missing:
		w.add(rankSQL(c.Path) + " = 1")
	case query.Eq:
		w.eq(c.Path, c.Value)
	case query.Ne:
		w.add("NOT ")
		w.eq(c.Path, c.Value)
	case query.Lt, query.Le, query.Gt, query.Ge:
		op := map[query.Op]string{query.Lt: " < ", query.Le: " <= ", query.Gt: " > ", query.Ge: " >= "}[c.Op]
		if c.Value.Rank == query.RankNumber {
			w.add("(" + rankSQL(c.Path) + " = 5 AND " + numSQL(c.Path) + op + w.arg(c.Value.Num, "text::numeric") + ")")
		} else {
			w.add("(" + rankSQL(c.Path) + " = 6 AND " + numSQL(c.Path) + " = 0 AND " + strSQL(c.Path) + op + w.arg(c.Value.Str, "text") + ")")
		}
	case query.In, query.NotIn:
		if c.Op == query.NotIn {
			w.add("NOT ")
		}
		w.in(c.Path, c.Values)
	}
}

func (w *pgBuilder) in(path []string, vs []query.Value) {
	var ranks []string
	var nums, strs, canons []string
	for _, v := range vs {
		switch {
		case v.Rank == query.RankNumber:
			nums = append(nums, v.Num)
		case v.Rank == query.RankString:
			strs = append(strs, v.Str)
		case v.Rank >= query.RankArray:
			canons = append(canons, v.Canon)
		default:
			ranks = append(ranks, strconv.Itoa(int(v.Rank)))
		}
	}
	var parts []string
	if len(ranks) > 0 {
		parts = append(parts, rankSQL(path)+" IN ("+strings.Join(ranks, ", ")+")")
	}
	if len(nums) > 0 {
		parts = append(parts, "("+rankSQL(path)+" = 5 AND "+numSQL(path)+" = ANY("+w.arg(nums, "text[]::numeric[]")+"))")
	}
	if len(strs) > 0 {
		parts = append(parts, "("+rankSQL(path)+" = 6 AND "+numSQL(path)+" = 0 AND "+strSQL(path)+" = ANY("+w.arg(strs, "text[]")+"))")
	}
	if len(canons) > 0 {
		parts = append(parts, "("+rankSQL(path)+" IN (7, 8) AND "+jsonbSQL(path)+" = ANY("+w.arg(canons, "text[]::jsonb[]")+"))")
	}
	if len(parts) == 0 {
		w.add("false")
		return
	}
	w.add("(" + strings.Join(parts, " OR ") + ")")
}

// after writes "strictly after the cursor": one row comparison when every
// key runs one way, which an index serves as a range, else the OR of
// prefixes.
func (w *pgBuilder) after(s *query.Spec) {
	type col struct {
		expr, val string
		desc      bool
	}
	var cols []col
	for i, k := range s.Keys {
		if k.Path == nil {
			cols = append(cols, col{"seq", w.arg(s.After.Seq, "bigint"), k.Desc})
			continue
		}
		t := w.tuple(s.After.Values[i])
		for j, e := range sortCols(k) {
			cols = append(cols, col{e, t[j], k.Desc})
		}
	}
	gt := func(c col) string {
		if c.desc {
			return " < "
		}
		return " > "
	}
	same := true
	for _, c := range cols {
		same = same && c.desc == cols[0].desc
	}
	if same {
		var l, r []string
		for _, c := range cols {
			l, r = append(l, c.expr), append(r, c.val)
		}
		w.add("(" + strings.Join(l, ", ") + ")" + gt(cols[0]) + "(" + strings.Join(r, ", ") + ")")
		return
	}
	var ors []string
	for i := range cols {
		var ands []string
		for j := range i {
			ands = append(ands, cols[j].expr+" = "+cols[j].val)
		}
		ands = append(ands, cols[i].expr+gt(cols[i])+cols[i].val)
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	w.add("(" + strings.Join(ors, " OR ") + ")")
}

// findSQL is the statement of a Find, a FindPage (ordered) or a
// CountWhere (not ordered, counting).
func (s *Store) findSQL(spec *query.Spec, limit int, count bool) (string, []any) {
	var w pgBuilder
	if count {
		w.add("SELECT count(*) FROM " + s.t.qname + " WHERE true")
	} else {
		w.add("SELECT id, seq, data, revision, created_at, updated_at FROM " + s.t.qname + " WHERE true")
	}
	for _, c := range spec.Conds {
		w.add(" AND ")
		w.cond(c)
	}
	if count {
		return w.b.String(), w.args
	}
	if spec.After != nil {
		w.add(" AND ")
		w.after(spec)
	}
	var order []string
	for _, k := range spec.Keys {
		for _, c := range sortCols(k) {
			if k.Desc {
				c += " DESC"
			}
			order = append(order, c)
		}
	}
	w.add(" ORDER BY " + strings.Join(order, ", "))
	if limit > 0 {
		// A literal, not a parameter: a prepared statement's generic plan
		// would assume a LIMIT parameter keeps a tenth of the rows, cost
		// it above the custom plans, and so plan every execution anew,
		// which costs more than running an indexed query.
		w.add(" LIMIT " + strconv.Itoa(limit))
	}
	return w.b.String(), w.args
}

// cursors names the server-side cursors of Finds inside transactions.
var cursors atomic.Uint64

// Find returns the records q matches in q's order, with one statement
// (see stream).
func (s *Store) Find(ctx context.Context, q persist.Query) iter.Seq2[persist.Record, error] {
	return func(yield func(persist.Record, error) bool) {
		const op = "find"
		ctx, yield, end := observe.Iter(&s.db.obs, ctx, op, s.t.name, yield)
		defer end()
		if err := s.enter(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
			return
		}
		spec, err := query.Parse(op, s.t.name, q, false)
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		sql, args := s.findSQL(spec, spec.Limit, false)
		s.stream(ctx, op, sql, args, yield)
	}
}

// stream yields the rows (id, seq, data, revision, created_at, updated_at)
// of one statement, executed once. Outside a transaction it streams on a
// connection of its own, so the loop body may use the DB; inside one it
// declares a cursor and fetches it a page at a time, so the loop body may
// use the transaction between pages. args may start with a
// pgx.QueryExecMode, which applies outside a transaction.
func (s *Store) stream(ctx context.Context, op, sql string, args []any, yield func(persist.Record, error) bool) {
	if s.tx != nil {
		if len(args) > 0 {
			if _, ok := args[0].(pgx.QueryExecMode); ok {
				args = args[1:]
			}
		}
		s.streamCursor(ctx, op, sql, args, yield)
		return
	}
	var rows pgx.Rows
	err := s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		var err error
		rows, err = q.Query(ctx, sql, args...)
		return err
	})
	if err != nil {
		yield(persist.Record{}, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var rec persist.Record
		var seq int64
		var data []byte
		if err := rows.Scan(&rec.ID, &seq, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
			yield(persist.Record{}, s.db.mapError(ctx, op, s.t.name, "", err, true))
			return
		}
		rec.Data = data
		if !yield(utc(rec), nil) {
			return
		}
		if s.db.closed.Load() {
			yield(persist.Record{}, &persist.Error{Op: op, Table: s.t.name, Err: persist.ErrClosed})
			return
		}
	}
	if err := rows.Err(); err != nil {
		yield(persist.Record{}, s.db.mapError(ctx, op, s.t.name, "", err, true))
	}
}

// streamCursor runs a statement inside a transaction through a
// server-side cursor: one execution, fetched a page at a time.
func (s *Store) streamCursor(ctx context.Context, op, sql string, args []any, yield func(persist.Record, error) bool) {
	name := fmt.Sprintf("persist_find_%d", cursors.Add(1))
	err := s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		_, err := q.Exec(ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+sql, args...)
		return err
	})
	if err != nil {
		yield(persist.Record{}, err)
		return
	}
	defer s.do(context.WithoutCancel(ctx), op, "", true, func(ctx context.Context, q querier) error { //nolint:errcheck // the transaction may be over
		_, err := q.Exec(ctx, "CLOSE "+name)
		return err
	})
	for {
		var page []persist.Record
		err := s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
			rows, err := q.Query(ctx, "FETCH "+strconv.Itoa(pageSize)+" FROM "+name)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var rec persist.Record
				var seq int64
				var data []byte
				if err := rows.Scan(&rec.ID, &seq, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
					return err
				}
				rec.Data = data
				page = append(page, utc(rec))
			}
			return rows.Err()
		})
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		for _, rec := range page {
			if !yield(rec, nil) {
				return
			}
		}
		if len(page) < pageSize {
			return
		}
	}
}

// FindPage returns one page of the records q matches and the cursor of
// the next.
func (s *Store) FindPage(ctx context.Context, q persist.Query) (_ persist.Page, err error) {
	const op = "find_page"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.enter(ctx, op, ""); err != nil {
		return persist.Page{}, err
	}
	spec, err := query.Parse(op, s.t.name, q, true)
	if err != nil {
		return persist.Page{}, err
	}
	sql, args := s.findSQL(spec, spec.Limit+1, false)
	var pg *query.Pager
	err = s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		pg = spec.Pager()
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rec persist.Record
			var seq int64
			var data []byte
			if err := rows.Scan(&rec.ID, &seq, &data, &rec.Revision, &rec.Created, &rec.Updated); err != nil {
				return err
			}
			rec.Data = data
			if !pg.Add(utc(rec), seq) {
				break
			}
		}
		return rows.Err()
	})
	if err != nil {
		return persist.Page{}, err
	}
	return pg.Page(), nil
}

// CountWhere returns the number of records q's conditions match.
func (s *Store) CountWhere(ctx context.Context, q persist.Query) (_ int64, err error) {
	const op = "count_where"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.enter(ctx, op, ""); err != nil {
		return 0, err
	}
	spec, err := query.Parse(op, s.t.name, q, false)
	if err != nil {
		return 0, err
	}
	sql, args := s.findSQL(spec, 0, true)
	var n int64
	err = s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		return q.QueryRow(ctx, sql, args...).Scan(&n)
	})
	return n, err
}
