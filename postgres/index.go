package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/query"
)

var _ persist.Indexer = (*Store)(nil)

// EnsureIndex creates a B-tree index on the fields' three expressions each,
// the very ones Find compares, then seq. CREATE INDEX CONCURRENTLY builds
// it while writers go on, outside any transaction; a build that failed
// before (which leaves an invalid index behind) is dropped and done again.
// The index is not unique, so a table distributed by id can hold it.
// ANALYZE follows, so the planner knows the expressions' statistics.
//
// PostgreSQL refuses a B-tree entry over about 2700 bytes (after
// compression), so once a field is indexed, a write whose string value
// there is that long fails with [persist.ErrInvalid] and writes nothing.
func (s *Store) EnsureIndex(ctx context.Context, idx persist.Index) (err error) {
	const op = "ensure_index"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.enter(ctx, op, ""); err != nil {
		return err
	}
	if s.tx != nil {
		return query.NotInTx(op, s.t.name)
	}
	keys, err := query.ParseIndex(op, s.t.name, idx)
	if err != nil {
		return err
	}
	var cols []string
	for _, k := range keys {
		for _, c := range sortCols(k) {
			if k.Desc {
				c += " DESC"
			}
			cols = append(cols, c)
		}
	}
	name := indexName(s.t.name, idx.Name)
	qname := ident.Quote(s.t.schema) + "." + ident.Quote(name)
	create := "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + ident.Quote(name) + " ON " + s.t.qname + " (" + strings.Join(cols, ", ") + ")"
	return s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		var invalid bool
		err := q.QueryRow(ctx, "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", qname).Scan(&invalid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if invalid {
			if _, err := q.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qname); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, create); err != nil {
			return err
		}
		_, err = q.Exec(ctx, "ANALYZE "+s.t.qname)
		return err
	})
}

// indexName names a declared index in the schema: table$ix_name, or, when
// that is longer than PostgreSQL's 63 bytes, a prefix of the table's name
// with a hash of the whole, so that two tables never share an index name.
func indexName(table, name string) string {
	full := table + "$ix_" + name
	if len(full) <= maxIdent {
		return full
	}
	sum := sha256.Sum256([]byte(table))
	suffix := "$ix_" + name + "$" + hex.EncodeToString(sum[:4])
	return table[:maxIdent-len(suffix)] + suffix
}

// planIndex finds the index an index scan node reads.
var planIndex = regexp.MustCompile(`Index (?:Only )?Scan(?: Backward)? using (\S+)`)

// Explain asks PostgreSQL's planner (EXPLAIN) how it would run Find's
// statement for q, with q's values. The query is Indexed when the plan
// reads through an index scan and has no sequential or bitmap scan, no
// sort and no filter: the index serves every condition and the order.
func (s *Store) Explain(ctx context.Context, q persist.Query) (_ persist.Plan, err error) {
	const op = "explain"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.enter(ctx, op, ""); err != nil {
		return persist.Plan{}, err
	}
	spec, err := query.Parse(op, s.t.name, q, false)
	if err != nil {
		return persist.Plan{}, err
	}
	sql, args := s.findSQL(spec, spec.Limit, false)
	var lines []string
	err = s.do(ctx, op, "", true, func(ctx context.Context, q querier) error {
		lines = lines[:0]
		rows, err := q.Query(ctx, "EXPLAIN "+sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				return err
			}
			lines = append(lines, l)
		}
		return rows.Err()
	})
	if err != nil {
		return persist.Plan{}, err
	}
	return pgPlan(lines), nil
}

func pgPlan(lines []string) persist.Plan {
	p := persist.Plan{Detail: strings.Join(lines, "\n")}
	bad := false
	for _, l := range lines {
		t := strings.TrimLeft(l, " ->")
		switch {
		case strings.HasPrefix(t, "Filter:"), strings.Contains(t, "Seq Scan"), strings.Contains(t, "Bitmap"),
			strings.HasPrefix(t, "Sort"), strings.HasPrefix(t, "Incremental Sort"):
			bad = true
		}
		if m := planIndex.FindStringSubmatch(t); m != nil && p.Index == "" {
			p.Index = strings.Trim(m[1], `"`)
		}
	}
	p.Indexed = p.Index != "" && !bad
	return p
}
