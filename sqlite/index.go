package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/query"
)

var _ persist.Indexer = (*Store)(nil)

// indexName is the SQLite name of a table's declared index.
func indexName(table, name string) string { return table + ":ix_" + name }

// EnsureIndex creates the expression index on the fields' keys, the very
// expressions Find compares, then insertion order. SQLite builds it while
// holding the write lock, so writers wait for the build rather than fail.
// The keys use only SQLite's built-in functions (see keySQL), so any
// program that writes to the table, such as the earlier portal with its
// own SQLite 3.38 or later, keeps the index up to date.
func (s *Store) EnsureIndex(ctx context.Context, idx persist.Index) (err error) {
	const op = "ensure_index"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.checkWrite(ctx, op, ""); err != nil {
		return err
	}
	if s.tx != nil {
		return query.NotInTx(op, s.t.name)
	}
	keys, err := query.ParseIndex(op, s.t.name, idx)
	if err != nil {
		return err
	}
	cols := keyCols(&query.Spec{Keys: keys})
	for i, k := range keys {
		if k.Desc {
			cols[i] += " DESC"
		}
	}
	stmt := `CREATE INDEX IF NOT EXISTS ` + ident.Quote(indexName(s.t.name, idx.Name)) + ` ON ` +
		ident.Quote(s.t.name) + ` (` + strings.Join(cols, `, `) + `)`
	return s.run(ctx, op, "", func(ctx context.Context) error {
		_, err := s.db.writer.ExecContext(ctx, stmt)
		return err
	})
}

// Explain asks SQLite's planner (EXPLAIN QUERY PLAN) how it would run
// Find's statement for q. The query is Indexed when every table access is
// a SEARCH through an index (or, for a query without conditions, a SCAN of
// one) and no temporary B-tree sorts the rows.
func (s *Store) Explain(ctx context.Context, q persist.Query) (_ persist.Plan, err error) {
	const op = "explain"
	ctx, o := s.db.obs.Start(ctx, op, s.t.name, 0)
	defer o.End(&err)
	if err := s.check(ctx, op, ""); err != nil {
		return persist.Plan{}, err
	}
	spec, err := query.Parse(op, s.t.name, q, false)
	if err != nil {
		return persist.Plan{}, err
	}
	var lines []string
	err = s.run(ctx, op, "", func(ctx context.Context) error {
		lines = lines[:0]
		where, args := whereSQL(spec, spec.Limit, true)
		plan := `EXPLAIN QUERY PLAN SELECT id, data, revision, created_at, updated_at FROM ` + s.t.from + where
		var rows *sql.Rows
		var err error
		if s.tx != nil {
			rows, err = s.tx.sqlTx.QueryContext(ctx, plan, args...)
		} else {
			// EXPLAIN plans with the schema the connection last read, and
			// never reads it itself: a statement that reads first makes
			// it see an index created since on another connection.
			conn, cerr := s.db.readers.Conn(ctx)
			if cerr != nil {
				return cerr
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `SELECT 1 FROM sqlite_master LIMIT 1`); err != nil {
				return err
			}
			rows, err = conn.QueryContext(ctx, plan, args...)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return err
			}
			lines = append(lines, detail)
		}
		return rows.Err()
	})
	if err != nil {
		return persist.Plan{}, err
	}
	return sqlitePlan(lines, len(spec.Conds) > 0), nil
}

func sqlitePlan(lines []string, filtered bool) persist.Plan {
	p := persist.Plan{Detail: strings.Join(lines, "\n"), Indexed: true}
	accesses := 0
	for _, l := range lines {
		switch {
		case strings.Contains(l, "TEMP B-TREE"):
			p.Indexed = false
		case strings.HasPrefix(l, "SEARCH ") || strings.HasPrefix(l, "SCAN "):
			accesses++
			_, after, ok := strings.Cut(l, " INDEX ")
			if !ok || strings.HasPrefix(l, "SCAN ") && filtered {
				p.Indexed = false
			}
			if ok && p.Index == "" {
				name, _, _ := strings.Cut(after, " (")
				p.Index = name
			}
		}
	}
	p.Indexed = p.Indexed && accesses > 0
	return p
}
