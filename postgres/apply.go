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
	"github.com/persistkit/persist/internal/writes"
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
func (db *DB) Apply(ctx context.Context, ws ...persist.Write) ([]persist.Record, error) {
	if err := writes.Check(ws); err != nil {
		return nil, err
	}
	if db.closed.Load() {
		return nil, &persist.Error{Op: "apply", Err: persist.ErrClosed}
	}
	out := make([]persist.Record, len(ws))
	if len(ws) == 0 {
		return out, nil
	}
	plan := newApplyPlan(ws)
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
	sql := db.statement(tables)
	var ok bool
	err := db.run(ctx, "apply", "", "", false, func(ctx context.Context) error {
		ok = false
		rows, err := db.pool.Query(ctx, sql, plan.args...)
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
		return rows.Err()
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
// order their rows are locked in), and the statement's arguments.
type applyPlan struct {
	tables []string
	index  map[applyKey]int // the write of each inserted or put row
	args   []any
}

// Per table, the statement takes applyArgs arguments: delete ids; insert
// ids and data; put ids and data; revision-checked put ids, data and
// revisions.
const applyArgs = 8

func newApplyPlan(ws []persist.Write) *applyPlan {
	p := &applyPlan{index: make(map[applyKey]int, len(ws))}
	for _, w := range ws {
		if !slices.Contains(p.tables, w.Table) {
			p.tables = append(p.tables, w.Table)
		}
	}
	slices.Sort(p.tables)
	type group struct {
		del, insIDs, putIDs, casIDs []string
		insData, putData, casData   [][]byte
		casRevs                     []int64
	}
	groups := make([]group, len(p.tables))
	for i, w := range ws {
		k := slices.Index(p.tables, w.Table)
		g := &groups[k]
		id, data := w.Record.ID, []byte(w.Record.Data)
		switch {
		case w.Op == persist.WriteDelete:
			g.del = append(g.del, id)
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
	for _, g := range groups {
		p.args = append(p.args, nonNil(g.del), nonNil(g.insIDs), nonNilData(g.insData), nonNil(g.putIDs),
			nonNilData(g.putData), nonNil(g.casIDs), nonNilData(g.casData), nonNilRevs(g.casRevs))
	}
	return p
}

// An empty array argument must not be nil, which pgx would send as NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilData(s [][]byte) [][]byte {
	if s == nil {
		return [][]byte{}
	}
	return s
}

func nonNilRevs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// statement returns Apply's statement for tables, built once per list.
func (db *DB) statement(tables []*table) string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	key := strings.Join(names, ",")
	if s, ok := db.applySQL.Load(key); ok {
		return s.(string)
	}
	s := buildApplySQL(tables)
	db.applySQL.Store(key, s)
	return s
}

func buildApplySQL(tables []*table) string {
	var b strings.Builder
	arg := func(k, j int) string { return "$" + strconv.Itoa(k*applyArgs+j+1) }
	b.WriteString("WITH ")
	var checks []string
	for k, t := range tables {
		del, casIDs, casRevs := arg(k, 0), arg(k, 5), arg(k, 7)
		fmt.Fprintf(&b, "g%d AS (SELECT count(*) FILTER (WHERE l.id = ANY(%s::text[])) AS d, "+
			"count(*) FILTER (WHERE w.rev IS NOT NULL AND l.revision = w.rev) AS c "+
			"FROM (SELECT id, revision FROM %s WHERE id = ANY(%s::text[]) OR id = ANY(%s::text[]) ORDER BY id COLLATE \"C\" FOR UPDATE) AS l "+
			"LEFT JOIN unnest(%s::text[], %s::bigint[]) AS w(id, rev) ON l.id = w.id), ",
			k, del, t.qname, del, casIDs, casIDs, casRevs)
		checks = append(checks,
			fmt.Sprintf("(SELECT d FROM g%d) = cardinality(%s::text[])", k, del),
			fmt.Sprintf("(SELECT c FROM g%d) = cardinality(%s::text[])", k, casIDs))
	}
	b.WriteString("ok AS (SELECT " + strings.Join(checks, " AND ") + " AS ok)")
	const ret = " RETURNING t.id, t.revision, t.created_at, t.updated_at"
	const okCond = "(SELECT ok FROM ok)"
	var results []string
	for k, t := range tables {
		fmt.Fprintf(&b, ", d%d AS (DELETE FROM %s WHERE id = ANY(%s::text[]) AND %s)", k, t.qname, arg(k, 0), okCond)
		fmt.Fprintf(&b, ", i%d AS (INSERT INTO %s AS t (id, data) SELECT r.id, r.data FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE %s%s)",
			k, t.qname, arg(k, 1), arg(k, 2), okCond, ret)
		fmt.Fprintf(&b, ", p%d AS (INSERT INTO %s AS t (id, data) SELECT r.id, r.data FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE %s "+
			"ON CONFLICT (id) DO UPDATE SET data = excluded.data, revision = t.revision + 1, updated_at = now()%s)",
			k, t.qname, arg(k, 3), arg(k, 4), okCond, ret)
		fmt.Fprintf(&b, ", c%d AS (UPDATE %s AS t SET data = r.data, revision = t.revision + 1, updated_at = now() "+
			"FROM unnest(%s::text[], %s::jsonb[]) AS r(id, data) WHERE t.id = r.id AND %s%s)",
			k, t.qname, arg(k, 5), arg(k, 6), okCond, ret)
		for _, cte := range []string{"i", "p", "c"} {
			results = append(results, fmt.Sprintf("SELECT %d, id, revision, created_at, updated_at, NULL::boolean FROM %s%d", k, cte, k))
		}
	}
	b.WriteString(" SELECT -1, NULL::text, NULL::bigint, NULL::timestamptz, NULL::timestamptz, (SELECT ok FROM ok)")
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
