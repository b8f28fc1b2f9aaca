package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

var _ persist.Applier = (*DB)(nil)

// Apply makes writes with one statement, sent and committed in one round
// trip. For each table the statement first locks, in id order, the rows
// that deletes and revision-checked puts name, and counts those that meet
// their preconditions; every write is conditional on all counts being
// right, so a failed precondition writes nothing. An insert of an existing
// id fails the whole statement with a unique violation. Rows are locked
// from the statement's start to its commit, with no round trip between.
//
// The statement is not retried after a lost connection, since it may have
// committed; a deadlock or serialization failure rolls it back and is.
func (db *DB) Apply(ctx context.Context, ws ...persist.Write) (_ []persist.Record, err error) {
	ctx, op := db.obs.Start(ctx, "apply", "", len(ws))
	defer op.End(&err)
	if err := check.Enter(ctx, db.closed.Load(), "apply", "", ""); err != nil {
		return nil, err
	}
	ws, err = check.Writes(ws, db.idField)
	if err != nil {
		return nil, err
	}
	out := make([]persist.Record, len(ws))
	if len(ws) == 0 {
		return out, nil
	}
	plan := newApplyPlan(ws, writeTime())
	tables := make([]*table, len(plan.tables))
	for k, name := range plan.tables {
		s, err := db.store(name, nil)
		if err != nil {
			return nil, err
		}
		if err := db.ensure(ctx, "apply", s.t); err != nil {
			return nil, err
		}
		tables[k] = s.t
	}
	sql := db.statement(tables, plan)
	var ok bool
	err = db.run(ctx, "apply", "", "", false, func(ctx context.Context) error {
		ok = false
		// PostgreSQL would plan this statement afresh on every call,
		// judging its generic plan dearer than one planned for the
		// arguments; planning costs more than running it. The setting
		// travels in the same round trip and is undone after it (or
		// rolled back with it).
		b := &pgx.Batch{}
		b.Queue("SET plan_cache_mode = force_generic_plan")
		b.Queue(sql, plan.args...)
		b.Queue("RESET plan_cache_mode")
		br := db.pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k int
			var id *string
			var rev *int64
			var created, updated *time.Time
			var good *bool
			if err := rows.Scan(&k, &id, &rev, &created, &updated, &good); err != nil {
				return err
			}
			if k < 0 {
				ok = good != nil && *good
				continue
			}
			if id == nil || rev == nil || created == nil || updated == nil || k >= len(plan.tables) {
				return fmt.Errorf("apply: incomplete row returned")
			}
			i, found := plan.index[applyKey{k, *id}]
			if !found {
				return fmt.Errorf("apply: unexpected row %q of table %s", *id, plan.tables[k])
			}
			out[i] = utc(persist.Record{ID: *id, Data: ws[i].Record.Data, Revision: *rev, Created: *created, Updated: *updated})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil, db.applyFailure(ctx, tables, ws)
		}
		return nil, err
	}
	if !ok {
		return nil, db.applyFailure(ctx, tables, ws)
	}
	return out, nil
}

// applyKey names a written row: the table's index in the plan and its id.
type applyKey struct {
	table int
	id    string
}

// applyPlan is Apply's writes grouped by table, tables in name order (the
// order their rows are locked in), and what the statement needs: which
// kinds of write each table has (its shape, which selects the statement)
// and the arguments.
type applyPlan struct {
	tables []string
	groups []applyGroup
	index  map[applyKey]int // the write of each inserted or put row
	shape  string
	args   []any
}

// applyGroup is one table's writes by kind: deletes, inserts, puts, and
// puts with a revision to check.
type applyGroup struct {
	del, insIDs, putIDs, casIDs, chkIDs []string
	insData, putData, casData           [][]byte
	casRevs, chkRevs                    []int64
}

// newApplyPlan plans ws, written at time now, which is the statement's
// first parameter.
func newApplyPlan(ws []persist.Write, now time.Time) *applyPlan {
	p := &applyPlan{index: make(map[applyKey]int, len(ws)), args: []any{now}}
	for _, w := range ws {
		if !slices.Contains(p.tables, w.Table) {
			p.tables = append(p.tables, w.Table)
		}
	}
	slices.Sort(p.tables)
	p.groups = make([]applyGroup, len(p.tables))
	for i, w := range ws {
		k := slices.Index(p.tables, w.Table)
		g := &p.groups[k]
		id, data := w.Record.ID, []byte(w.Record.Data)
		switch {
		case w.Op == persist.WriteDelete:
			g.del = append(g.del, id)
			continue
		case w.Op == persist.WriteCheck:
			g.chkIDs, g.chkRevs = append(g.chkIDs, id), append(g.chkRevs, w.Record.Revision)
			continue
		case w.Op == persist.WriteInsert:
			g.insIDs, g.insData = append(g.insIDs, id), append(g.insData, data)
		case w.Record.Revision == 0:
			g.putIDs, g.putData = append(g.putIDs, id), append(g.putData, data)
		default:
			g.casIDs, g.casData, g.casRevs = append(g.casIDs, id), append(g.casData, data), append(g.casRevs, w.Record.Revision)
		}
		p.index[applyKey{k, id}] = i
	}
	var shape strings.Builder
	for k, g := range p.groups {
		shape.WriteString(p.tables[k])
		for _, has := range []bool{len(g.del) > 0, len(g.insIDs) > 0, len(g.putIDs) > 0, len(g.casIDs) > 0, len(g.chkIDs) > 0} {
			if has {
				shape.WriteByte('1')
			} else {
				shape.WriteByte('0')
			}
		}
		shape.WriteByte(',')
		if len(g.del) > 0 {
			p.args = append(p.args, g.del)
		}
		if len(g.insIDs) > 0 {
			p.args = append(p.args, g.insIDs, g.insData)
		}
		if len(g.putIDs) > 0 {
			p.args = append(p.args, g.putIDs, g.putData)
		}
		if len(g.casIDs) > 0 {
			p.args = append(p.args, g.casIDs, g.casData, g.casRevs)
		}
		if len(g.chkIDs) > 0 {
			p.args = append(p.args, g.chkIDs, g.chkRevs)
		}
	}
	p.shape = shape.String()
	return p
}

// statement returns Apply's statement for a plan's shape, built once.
func (db *DB) statement(tables []*table, p *applyPlan) string {
	if s, ok := db.applySQL.Load(p.shape); ok {
		return s.(string)
	}
	s := buildApplySQL(tables, p.groups)
	db.applySQL.Store(p.shape, s)
	return s
}

// buildApplySQL writes the statement for the kinds of write in groups,
// with parameters in the order newApplyPlan appends arguments, after $1,
// the time of the write. Only the
// parts a kind needs are there: a table with neither deletes nor checked
// puts has no guard, and a statement with no guard writes unconditionally
// (an existing inserted id still fails it).
func buildApplySQL(tables []*table, groups []applyGroup) string {
	now := ts("$1")
	n := 1
	next := func() string { n++; return "$" + strconv.Itoa(n) }
	type params struct{ del, insIDs, insData, putIDs, putData, casIDs, casData, casRevs, chkIDs, chkRevs string }
	ps := make([]params, len(groups))
	for k, g := range groups {
		p := &ps[k]
		if len(g.del) > 0 {
			p.del = next()
		}
		if len(g.insIDs) > 0 {
			p.insIDs, p.insData = next(), next()
		}
		if len(g.putIDs) > 0 {
			p.putIDs, p.putData = next(), next()
		}
		if len(g.casIDs) > 0 {
			p.casIDs, p.casData, p.casRevs = next(), next(), next()
		}
		if len(g.chkIDs) > 0 {
			p.chkIDs, p.chkRevs = next(), next()
		}
	}
	var ctes, checks, results []string
	for k, t := range tables {
		p := ps[k]
		if p.chkIDs != "" {
			// Checked records are share-locked, so they stay as checked
			// until the commit; a missing one is checked as of the
			// statement's start.
			ctes = append(ctes, fmt.Sprintf("k%d AS (SELECT count(*) FILTER (WHERE w.rev = 0 AND l.id IS NULL OR w.rev <> 0 AND l.revision = w.rev) AS k "+
				"FROM unnest(%s::text[], %s::bigint[]) AS w(id, rev) LEFT JOIN "+
				"(SELECT id, revision FROM %s WHERE id = ANY(%s::text[]) ORDER BY id COLLATE \"C\" FOR SHARE) AS l ON l.id = w.id)",
				k, p.chkIDs, p.chkRevs, t.qname, p.chkIDs))
			checks = append(checks, fmt.Sprintf("(SELECT k FROM k%d) = cardinality(%s::text[])", k, p.chkIDs))
		}
		if p.del == "" && p.casIDs == "" {
			continue
		}
		// Lock the rows named, in id order, then count those that meet
		// their preconditions.
		var locked, counts []string
		join := ""
		if p.del != "" {
			locked = append(locked, p.del+"::text[]")
			counts = append(counts, "count(*) FILTER (WHERE l.id = ANY("+p.del+"::text[])) AS d")
			checks = append(checks, fmt.Sprintf("(SELECT d FROM g%d) = cardinality(%s::text[])", k, p.del))
		}
		if p.casIDs != "" {
			locked = append(locked, p.casIDs+"::text[]")
			counts = append(counts, "count(w.rev) FILTER (WHERE l.revision = w.rev) AS c")
			join = " LEFT JOIN unnest(" + p.casIDs + "::text[], " + p.casRevs + "::bigint[]) AS w(id, rev) ON l.id = w.id"
			checks = append(checks, fmt.Sprintf("(SELECT c FROM g%d) = cardinality(%s::text[])", k, p.casIDs))
		}
		ids := locked[0]
		if len(locked) == 2 {
			ids = "array_cat(" + locked[0] + ", " + locked[1] + ")"
		}
		ctes = append(ctes, fmt.Sprintf("g%d AS (SELECT %s FROM (SELECT id, revision FROM %s WHERE id = ANY(%s) ORDER BY id COLLATE \"C\" FOR UPDATE) AS l%s)",
			k, strings.Join(counts, ", "), t.qname, ids, join))
	}
	cond, okCol := "", "true"
	if len(checks) > 0 {
		ctes = append(ctes, "ok AS (SELECT "+strings.Join(checks, " AND ")+" AS ok)")
		cond, okCol = " AND (SELECT ok FROM ok)", "(SELECT ok FROM ok)"
	}
	for k, t := range tables {
		p := ps[k]
		if p.del != "" {
			ctes = append(ctes, fmt.Sprintf("d%d AS (DELETE FROM %s WHERE id = ANY(%s::text[])%s)", k, t.qname, p.del, cond))
		}
		if p.insIDs != "" {
			ctes = append(ctes, fmt.Sprintf("i%d AS (%sSELECT %s FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE true%s%s)",
				k, insertInto(t.qname), newRow("r.id", "r.data", now), p.insIDs, p.insData, cond, returnRows))
			results = append(results, fmt.Sprintf("SELECT %d, id, revision, created_at, updated_at, NULL::boolean FROM i%d", k, k))
		}
		if p.putIDs != "" {
			ctes = append(ctes, fmt.Sprintf("p%d AS (%sSELECT %s FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE true%s%s%s)",
				k, insertInto(t.qname), newRow("r.id", "r.data", now), p.putIDs, p.putData, cond, onConflictReplace, returnRows))
			results = append(results, fmt.Sprintf("SELECT %d, id, revision, created_at, updated_at, NULL::boolean FROM p%d", k, k))
		}
		if p.casIDs != "" {
			ctes = append(ctes, fmt.Sprintf("c%d AS (UPDATE %s AS t%s "+
				"FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE t.id = r.id%s%s)", k, t.qname, setWrite("r.data", now), p.casIDs, p.casData, cond, returnRows))
			results = append(results, fmt.Sprintf("SELECT %d, id, revision, created_at, updated_at, NULL::boolean FROM c%d", k, k))
		}
	}
	var b strings.Builder
	b.WriteString("WITH " + strings.Join(ctes, ", "))
	// The status row names $1, typed, so that a statement of deletes and
	// checks alone, which write no time, still gives it a type (else
	// 42P18); its value stays NULL.
	b.WriteString(" SELECT -1, NULL::text, NULL::bigint, NULLIF(" + now + ", " + now + "), NULL::timestamptz, " + okCol)
	for _, r := range results {
		b.WriteString(" UNION ALL " + r)
	}
	return b.String()
}

// applyFailure finds, after a statement whose preconditions failed or that
// inserted an existing id, which write failed, to name its table and id. The rows are read again without
// locks, so by then the culprit may have changed; the error still says
// that nothing was written.
func (db *DB) applyFailure(ctx context.Context, tables []*table, ws []persist.Write) error {
	byName := make(map[string]*table, len(tables))
	for _, t := range tables {
		byName[t.name] = t
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, w := range ws {
		if w.Op == persist.WritePut && w.Record.Revision == 0 {
			continue
		}
		var rev int64
		err := db.pool.QueryRow(ctx, byName[w.Table].sqlRevision, w.Record.ID).Scan(&rev)
		missing := errors.Is(err, pgx.ErrNoRows)
		if err != nil && !missing {
			break
		}
		switch {
		case w.Op == persist.WriteCheck && (missing != (w.Record.Revision == 0) || !missing && rev != w.Record.Revision):
			return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID,
				Err: fmt.Errorf("%w: check: revision %d is not the stored revision; nothing was written", persist.ErrConflict, w.Record.Revision)}
		case w.Op == persist.WriteInsert && !missing:
			return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID, Err: fmt.Errorf("%w: insert: id already exists; nothing was written", persist.ErrConflict)}
		case w.Op == persist.WriteDelete && missing:
			return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID, Err: fmt.Errorf("%w: delete: no such record; nothing was written", persist.ErrNotFound)}
		case w.Op == persist.WritePut && (missing || rev != w.Record.Revision):
			return &persist.Error{Op: "apply", Table: w.Table, ID: w.Record.ID,
				Err: fmt.Errorf("%w: put: revision %d is not the stored revision; nothing was written", persist.ErrConflict, w.Record.Revision)}
		}
	}
	return &persist.Error{Op: "apply", Err: fmt.Errorf("%w: a precondition failed; nothing was written", persist.ErrConflict)}
}
