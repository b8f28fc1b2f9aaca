package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"iter"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
	"github.com/persistkit/persist/internal/query"
	msqlite "modernc.org/sqlite"
)

// canonFunc gives the canonical JSON that arrays and objects are equal by.
// Only persist's own statements call it, never an index, so a connection
// of another program that writes to the table does not need it.
const canonFunc = "persist_canon"

func registerQueryFunctions() error {
	return msqlite.RegisterDeterministicScalarFunction(canonFunc, 1,
		func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			c := query.Canon(jsonArg(args[0]))
			if c == nil {
				return nil, nil
			}
			return string(c), nil
		})
}

func jsonArg(v driver.Value) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}

// fieldSQL is the JSON text of the field at path. The path is part of the
// SQL text, not a parameter, so that an expression index on the same text
// can serve it; its keys passed query.ParsePath, so they hold no quote.
func fieldSQL(path []string) string {
	return `data -> '$."` + strings.Join(path, `"."`) + `"'`
}

// sqlBuilder collects a statement's text and arguments.
type sqlBuilder struct {
	b    strings.Builder
	args []any
}

func (w *sqlBuilder) add(text string, args ...any) {
	w.b.WriteString(text)
	w.args = append(w.args, args...)
}

// cond writes one condition.
func (w *sqlBuilder) cond(c query.Cond) {
	k := keySQL(c.Path)
	switch c.Op {
	case query.Exists:
		w.add(k + ` <> ` + rankLit(query.RankMissing))
	case query.Missing:
		w.add(k + ` = ` + rankLit(query.RankMissing))
	case query.Eq:
		w.eq(c.Path, c.Value)
	case query.Ne:
		w.add(`NOT `)
		w.eq(c.Path, c.Value)
	case query.Lt, query.Le, query.Gt, query.Ge:
		r := rangeOf(c)
		w.add(`(`+k+r.loOp()+`? AND `+k+r.hiOp()+`?)`, string(r.lo), string(r.hi))
	case query.In, query.NotIn:
		if c.Op == query.NotIn {
			w.add(`NOT `)
		}
		w.in(c.Path, c.Values)
	}
}

// keyRange is a range of keys, each end inclusive or not.
type keyRange struct {
	lo, hi         []byte
	loIncl, hiIncl bool
}

func (r keyRange) loOp() string {
	if r.loIncl {
		return ` >= `
	}
	return ` > `
}

func (r keyRange) hiOp() string {
	if r.hiIncl {
		return ` <= `
	}
	return ` < `
}

// rangeOf is the key range of a comparison. It matches only values of the
// operand's type, whose keys lie in [rank, rank+1).
func rangeOf(c query.Cond) keyRange {
	rank := []byte{c.Value.Rank.KeyByte()}
	next := []byte{c.Value.Rank.KeyByte() + 1}
	switch c.Op {
	case query.Lt:
		return keyRange{lo: rank, loIncl: true, hi: c.Value.Key}
	case query.Le:
		return keyRange{lo: rank, loIncl: true, hi: c.Value.Key, hiIncl: true}
	case query.Gt:
		return keyRange{lo: c.Value.Key, hi: next}
	}
	return keyRange{lo: c.Value.Key, loIncl: true, hi: next}
}

// intersect narrows r to what o also allows.
func (r keyRange) intersect(o keyRange) keyRange {
	if c := bytes.Compare(o.lo, r.lo); c > 0 || c == 0 && !o.loIncl {
		r.lo, r.loIncl = o.lo, o.loIncl
	}
	if c := bytes.Compare(o.hi, r.hi); c < 0 || c == 0 && !o.hiIncl {
		r.hi, r.hiIncl = o.hi, o.hiIncl
	}
	return r
}

// conds writes the conditions ANDed. The comparisons on one path become
// one range with the tightest ends, which SQLite's planner needs to scan
// only that range of an index: given two lower bounds, it may take the
// looser.
func (w *sqlBuilder) conds(cs []query.Cond) {
	ranges := map[string]keyRange{}
	var order []string
	for _, c := range cs {
		if c.Op < query.Lt || c.Op > query.Ge {
			w.add(` AND `)
			w.cond(c)
			continue
		}
		p := strings.Join(c.Path, ".")
		if r, ok := ranges[p]; ok {
			ranges[p] = r.intersect(rangeOf(c))
			continue
		}
		ranges[p] = rangeOf(c)
		order = append(order, p)
	}
	for _, p := range order {
		r := ranges[p]
		k := keySQL(strings.Split(p, "."))
		// BETWEEN computes the key once per row where two comparisons
		// compute it twice, which a scan pays on every row. It takes
		// inclusive ends: the key just after lo is lo+0x00, and the end
		// of a type's keys, rank+1, is [rank, 0xFF], which no key
		// reaches (the byte after the rank is a sign class or UTF-8).
		if !r.loIncl {
			r.lo, r.loIncl = append(bytes.Clone(r.lo), 0), true
		}
		if !r.hiIncl && len(r.hi) == 1 {
			r.hi, r.hiIncl = []byte{r.hi[0] - 1, 0xFF}, true
		}
		if r.hiIncl {
			w.add(` AND (`+k+` BETWEEN ? AND ?)`, string(r.lo), string(r.hi))
			continue
		}
		w.add(` AND (`+k+r.loOp()+`? AND `+k+r.hiOp()+`?)`, string(r.lo), string(r.hi))
	}
}

func (w *sqlBuilder) eq(path []string, v query.Value) {
	if v.Rank >= query.RankArray {
		w.add(`(`+keySQL(path)+` = ? AND `+canonFunc+`(`+fieldSQL(path)+`) = ?)`, string(v.Key), v.Canon)
		return
	}
	w.add(`(`+keySQL(path)+` = ?)`, string(v.Key))
}

func (w *sqlBuilder) in(path []string, vs []query.Value) {
	var keys, canons []any
	for _, v := range vs {
		if v.Rank >= query.RankArray {
			canons = append(canons, v.Canon)
		} else {
			keys = append(keys, string(v.Key))
		}
	}
	var parts []string
	if len(keys) > 0 {
		parts = append(parts, keySQL(path)+` IN (`+marks(len(keys))+`)`)
	}
	if len(canons) > 0 {
		parts = append(parts, `(`+keySQL(path)+` IN (`+rankLit(query.RankArray)+`, `+rankLit(query.RankObject)+`) AND `+canonFunc+`(`+fieldSQL(path)+`) IN (`+marks(len(canons))+`))`)
	}
	if len(parts) == 0 {
		w.add(`(0)`)
		return
	}
	w.add(`(`+strings.Join(parts, ` OR `)+`)`, append(keys, canons...)...)
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// keyCols are the sort keys' expressions, insertion order last.
func keyCols(s *query.Spec) []string {
	cols := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		cols[i] = `seq`
		if k.Path != nil {
			cols[i] = keySQL(k.Path)
		}
	}
	return cols
}

// after writes the condition "strictly after the cursor" in the spec's
// order: a row value when every key runs one way, which SQLite's planner
// turns into an index range, else the expanded OR of prefixes.
func (w *sqlBuilder) after(s *query.Spec) {
	cols := keyCols(s)
	vals := make([]any, len(cols))
	for i, v := range s.After.Values {
		vals[i] = string(v.Key)
	}
	vals[len(vals)-1] = s.After.Seq
	gt := func(k query.SortKey) string {
		if k.Desc {
			return ` < `
		}
		return ` > `
	}
	same := true
	for _, k := range s.Keys {
		same = same && k.Desc == s.Keys[0].Desc
	}
	if same {
		w.add(`(`+strings.Join(cols, `, `)+`)`+gt(s.Keys[0])+`(`+marks(len(cols))+`)`, vals...)
		return
	}
	w.add(`(`)
	for i := range cols {
		if i > 0 {
			w.add(` OR `)
		}
		w.add(`(`)
		for j := range i {
			w.add(cols[j]+` = ? AND `, vals[j])
		}
		w.add(cols[i]+gt(s.Keys[i])+`?)`, vals[i])
	}
	w.add(`)`)
}

// whereSQL writes the statement's text after FROM: conditions, cursor,
// order and, when limit > 0, LIMIT.
func whereSQL(s *query.Spec, limit int, ordered bool) (string, []any) {
	var w sqlBuilder
	// Each condition and sort key writes a key expression of a few
	// kilobytes (twice for a cursor); growing the text once saves the
	// copies of growing it by doubling.
	n := len(s.Conds) + len(s.Keys)
	if s.After != nil {
		n += len(s.Keys)
	}
	w.b.Grow(n*(len(keyTemplate)+64) + 256)
	w.add(` WHERE 1`)
	w.conds(s.Conds)
	if s.After != nil && ordered {
		w.add(` AND `)
		w.after(s)
	}
	if ordered {
		cols := keyCols(s)
		for i, k := range s.Keys {
			if k.Desc {
				cols[i] += ` DESC`
			}
		}
		w.add(` ORDER BY ` + strings.Join(cols, `, `))
	}
	if limit > 0 {
		w.add(` LIMIT ?`, limit)
	}
	return w.b.String(), w.args
}

// Find returns the records q matches in q's order. A file database reads
// them with one statement, on a reader connection in WAL mode, so writes
// in the loop body go ahead; an in-memory database, whose readers would
// block its writer, reads by keyset pages instead, holding nothing between
// them.
func (s *Store) Find(ctx context.Context, q persist.Query) iter.Seq2[persist.Record, error] {
	return func(yield func(persist.Record, error) bool) {
		const op = "find"
		ctx, yield, end := observe.Iter(&s.db.obs, ctx, op, s.t.name, yield)
		defer end()
		if err := s.check(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
			return
		}
		spec, err := query.Parse(op, s.t.name, q, false)
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		if s.db.path == "" && s.tx == nil {
			s.findPages(ctx, spec, yield)
			return
		}
		s.findStream(ctx, spec, yield)
	}
}

func (s *Store) findStream(ctx context.Context, spec *query.Spec, yield func(persist.Record, error) bool) {
	where, args := whereSQL(spec, spec.Limit, true)
	s.stream(ctx, "find", where, args, yield)
}

// stream yields the records one statement selects (where is its text
// after FROM), executed once: on a reader connection, prepared and cached,
// or inside the transaction.
func (s *Store) stream(ctx context.Context, op, where string, args []any, yield func(persist.Record, error) bool) {
	var rows *sql.Rows
	var closeStmt *sql.Stmt
	defer func() {
		if closeStmt != nil {
			closeStmt.Close()
		}
	}()
	err := s.run(ctx, op, "", func(ctx context.Context) error {
		q := `SELECT id, data, revision, created_at, updated_at FROM ` + s.t.from + where
		if s.tx != nil {
			var err error
			rows, err = s.tx.sqlTx.QueryContext(ctx, q, args...)
			return err
		}
		st, cached, err := s.t.pageStmt(ctx, s.db.readers, q)
		if err != nil {
			return err
		}
		if rows, err = st.QueryContext(ctx, args...); !cached {
			// Closing a statement waits for its rows; the statement is
			// closed when they are.
			if err != nil {
				st.Close()
			} else {
				closeStmt = st
			}
		}
		return err
	})
	if err != nil {
		yield(persist.Record{}, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var rec persist.Record
		var c, u int64
		if err := rows.Scan(&rec.ID, (*[]byte)(&rec.Data), &rec.Revision, &c, &u); err != nil {
			yield(persist.Record{}, s.db.wrap(ctx, op, s.t.name, "", err))
			return
		}
		rec.Created, rec.Updated = fromMicros(c), fromMicros(u)
		if !yield(rec, nil) {
			return
		}
		if err := s.check(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
			return
		}
	}
	if err := rows.Err(); err != nil {
		yield(persist.Record{}, s.db.wrap(ctx, op, s.t.name, "", err))
	}
}

// findPages reads by keyset pages of pageSize, each resuming after the
// last row of the one before by sort key and insertion position.
func (s *Store) findPages(ctx context.Context, spec *query.Spec, yield func(persist.Record, error) bool) {
	const op = "find"
	left := spec.Limit
	page := make([]pageRow, 0, pageSize)
	for {
		n := pageSize
		if spec.Limit > 0 {
			n = min(n, left)
		}
		where, args := whereSQL(spec, n, true)
		var err error
		if page, err = s.page(ctx, op, where, args, page[:0]); err != nil {
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
		if spec.Limit > 0 {
			if left -= len(page); left == 0 {
				return
			}
		}
		last := page[len(page)-1]
		spec = spec.Next(last.rec.Data, last.seq)
		if err := s.check(ctx, op, ""); err != nil {
			yield(persist.Record{}, err)
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
	if err := s.check(ctx, op, ""); err != nil {
		return persist.Page{}, err
	}
	spec, err := query.Parse(op, s.t.name, q, true)
	if err != nil {
		return persist.Page{}, err
	}
	where, args := whereSQL(spec, spec.Limit+1, true)
	rows, err := s.page(ctx, op, where, args, nil)
	if err != nil {
		return persist.Page{}, err
	}
	pg := spec.Pager()
	for _, r := range rows {
		if !pg.Add(r.rec, r.seq) {
			break
		}
	}
	return pg.Page(), nil
}

// CountWhere returns the number of records q's conditions match.
func (s *Store) CountWhere(ctx context.Context, q persist.Query) (_ int64, err error) {
	const op = "count_where"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.check(ctx, op, ""); err != nil {
		return 0, err
	}
	spec, err := query.Parse(op, s.t.name, q, false)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.run(ctx, op, "", func(ctx context.Context) error {
		where, args := whereSQL(spec, 0, false)
		q := `SELECT COUNT(*) FROM ` + s.t.from + where
		if s.tx != nil {
			return s.tx.sqlTx.QueryRowContext(ctx, q, args...).Scan(&n)
		}
		st, cached, err := s.t.pageStmt(ctx, s.db.readers, q)
		if err != nil {
			return err
		}
		if !cached {
			defer st.Close()
		}
		return st.QueryRowContext(ctx, args...).Scan(&n)
	})
	return n, err
}
