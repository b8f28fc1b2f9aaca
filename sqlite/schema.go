package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
)

// layoutVersion is the table layout this package writes, recorded per table
// in persist_meta.
const layoutVersion = 1

const createMeta = `CREATE TABLE IF NOT EXISTS persist_meta (
	table_name TEXT PRIMARY KEY,
	layout_version INTEGER NOT NULL
)`

// listTables finds the recorded tables that still exist, plus tables in
// the old portal layout: exactly the columns id and data.
const listTables = `
SELECT m.table_name FROM persist_meta m
JOIN sqlite_schema s ON s.type = 'table' AND s.name = m.table_name
UNION
SELECT s.name FROM sqlite_schema s
WHERE s.type = 'table'
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name <> 'persist_meta'
  AND s.name NOT IN (SELECT table_name FROM persist_meta)
  AND (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(s.name) ORDER BY name)) = 'data,id'`

// hasMeta counts persist_meta tables: 0 in a file persist never wrote.
const hasMeta = `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'persist_meta'`

// listLegacyTables is listTables for a file without persist_meta, opened
// read-only.
const listLegacyTables = `
SELECT s.name FROM sqlite_schema s
WHERE s.type = 'table'
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(s.name) ORDER BY name)) = 'data,id'`

// ensureReadOnly opens a store on a read-only DB: the table must exist,
// and one in the earlier portal layout is read through a subquery that
// supplies the columns an upgrade would add, without adding them.
func (db *DB) ensureReadOnly(ctx context.Context, name string) (*Store, error) {
	var cols map[string]bool
	var version int64
	recorded := false
	err := db.retry(ctx, "store", func(ctx context.Context) error {
		var n int
		if err := db.readers.QueryRowContext(ctx, hasMeta).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			err := db.readers.QueryRowContext(ctx, `SELECT layout_version FROM persist_meta WHERE table_name = ?`, name).Scan(&version)
			recorded = err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var err error
		cols, err = columns(ctx, db.readers, name)
		return err
	})
	if err != nil {
		return nil, db.wrap(ctx, "store", name, "", err)
	}
	switch {
	case len(cols) == 0:
		return nil, &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: table does not exist, and the database was opened read-only", persist.ErrNotFound)}
	case !cols["id"] || !cols["data"]:
		return nil, &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: table exists without id and data columns; it is not a persist table", persist.ErrInvalid)}
	case recorded && version != layoutVersion:
		return nil, &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: table has layout version %d; this version of persist reads %d", persist.ErrInvalid, version, layoutVersion)}
	}
	from := ""
	if !cols["seq"] || !cols["revision"] || !cols["created_at"] || !cols["updated_at"] {
		// The earlier layout: what upgrade would write, computed on
		// the fly. SQLite flattens the subquery, so ordering by seq
		// walks the rowid and ordering by id the id index.
		pick := func(col, def string) string {
			if cols[col] {
				return col
			}
			return def + " AS " + col
		}
		at := fmt.Sprint(db.openedAt)
		from = `(SELECT id, data, ` + pick("seq", "rowid") + `, ` + pick("revision", "1") + `, ` +
			pick("created_at", at) + `, ` + pick("updated_at", at) + ` FROM ` + ident.Quote(name) + `)`
	}
	return db.add(ctx, newTable(name, from))
}

// execer is what schema changes and multi-statement writes need; both
// *sql.DB and *sql.Tx have it.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// ensureSchema creates the table in the current layout or upgrades a table
// in the old portal layout additively, inside the caller's transaction.
func ensureSchema(ctx context.Context, x execer, name string, log *slog.Logger) error {
	q := ident.Quote(name)
	var version int64
	err := x.QueryRowContext(ctx, `SELECT layout_version FROM persist_meta WHERE table_name = ?`, name).Scan(&version)
	recorded := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	cols, err := columns(ctx, x, name)
	if err != nil {
		return err
	}
	if recorded && len(cols) > 0 {
		if version != layoutVersion {
			return &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: table has layout version %d; this version of persist reads %d", persist.ErrInvalid, version, layoutVersion)}
		}
		return shareTable(ctx, x, name, log)
	}
	if len(cols) == 0 {
		if _, err := x.ExecContext(ctx, createTable(q)); err != nil {
			return err
		}
		if _, err := x.ExecContext(ctx, `CREATE UNIQUE INDEX `+seqIndex(name)+` ON `+q+` (seq)`); err != nil {
			return err
		}
		if err := createTriggers(ctx, x, name); err != nil {
			return err
		}
		return record(ctx, x, name)
	}
	if !cols["id"] || !cols["data"] {
		return &persist.Error{Op: "store", Table: name, Err: fmt.Errorf("%w: table exists without id and data columns; it is not a persist table", persist.ErrInvalid)}
	}
	return upgrade(ctx, x, name, cols, log)
}

// upgrade adds the missing columns to a portal-layout table, numbering the
// existing rows in rowid order, which is the order they were inserted in.
func upgrade(ctx context.Context, x execer, name string, cols map[string]bool, log *slog.Logger) error {
	q := ident.Quote(name)
	now := time.Now().UnixMicro()
	add := []struct{ col, def, set string }{
		// seq stays nullable: the earlier portal's inserts leave it
		// NULL, and the insert trigger numbers them. A default of 0
		// would make every such row collide on the unique index.
		{"seq", "INTEGER", "seq = rowid"},
		{"revision", "INTEGER NOT NULL DEFAULT 1", ""},
		{"created_at", "INTEGER NOT NULL DEFAULT 0", "created_at = ?1"},
		{"updated_at", "INTEGER NOT NULL DEFAULT 0", "updated_at = ?1"},
	}
	var added, sets []string
	for _, a := range add {
		if cols[a.col] {
			continue
		}
		if _, err := x.ExecContext(ctx, `ALTER TABLE `+q+` ADD COLUMN `+a.col+` `+a.def); err != nil {
			return err
		}
		added = append(added, a.col)
		if a.set != "" {
			sets = append(sets, a.set)
		}
	}
	var n int64
	if len(sets) > 0 {
		set := sets[0]
		for _, s := range sets[1:] {
			set += ", " + s
		}
		res, err := x.ExecContext(ctx, `UPDATE `+q+` SET `+set, now)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
	}
	if _, err := x.ExecContext(ctx, `CREATE UNIQUE INDEX IF NOT EXISTS `+seqIndex(name)+` ON `+q+` (seq)`); err != nil {
		return err
	}
	if err := createTriggers(ctx, x, name); err != nil {
		return err
	}
	if err := record(ctx, x, name); err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "persist: upgraded table to the current layout",
		slog.String("table", name), slog.Any("added_columns", added), slog.Int64("rows", n))
	return nil
}

func record(ctx context.Context, x execer, name string) error {
	_, err := x.ExecContext(ctx, `INSERT OR REPLACE INTO persist_meta (table_name, layout_version) VALUES (?, ?)`, name, layoutVersion)
	return err
}

// columns returns the table's column names; none if it does not exist.
func columns(ctx context.Context, x execer, name string) (map[string]bool, error) {
	rows, err := x.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols[c] = true
	}
	return cols, rows.Err()
}

// seqIndex names the index on seq. Tables and indexes share one namespace
// in SQLite; the colon cannot occur in a table name, so the index never
// collides with another store.
func seqIndex(name string) string { return ident.Quote(name + ":seq") }
