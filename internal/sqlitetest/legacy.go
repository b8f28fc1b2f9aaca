// Legacy writers for persisttest.TestSharedTables.

package sqlitetest

import (
	"context"
	"database/sql"
	"testing"
)

// Legacy implements persisttest.Legacy: it issues the earlier portal's own statements, exactly, on its
// own connection pool with the earlier portal's pragmas.
type Legacy struct{ db *sql.DB }

func (l Legacy) exec(ctx context.Context, q string, args ...any) error {
	_, err := l.db.ExecContext(ctx, q, args...)
	return err
}

func bracket(table string) string { return "[" + table + "]" }

// CreateTable implements persisttest.Legacy.CreateTable with the earlier portal's statement.
func (l Legacy) CreateTable(ctx context.Context, table string) error {
	return l.exec(ctx, `CREATE TABLE IF NOT EXISTS `+bracket(table)+` (id TEXT PRIMARY KEY, data TEXT NOT NULL)`)
}

// Add implements persisttest.Legacy.Add with the earlier portal's statement.
func (l Legacy) Add(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT OR REPLACE INTO `+bracket(table)+` (id, data) VALUES (?, ?)`, id, data)
}

// Insert implements persisttest.Legacy.Insert with the earlier portal's statement.
func (l Legacy) Insert(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT INTO `+bracket(table)+` (id, data) VALUES (?, ?)`, id, data)
}

// InsertOrIgnore implements persisttest.Legacy.InsertOrIgnore with the earlier portal's statement.
func (l Legacy) InsertOrIgnore(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT OR IGNORE INTO `+bracket(table)+` (id, data) VALUES (?, ?)`, id, data)
}

// immediate runs fn in a BEGIN IMMEDIATE transaction on one connection.
func (l Legacy) immediate(ctx context.Context, fn func(c *sql.Conn) error) error {
	c, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	if err := fn(c); err != nil {
		c.ExecContext(ctx, `ROLLBACK`) //nolint:errcheck // the first error is the one to report
		return err
	}
	_, err = c.ExecContext(ctx, `COMMIT`)
	return err
}

// Update implements persisttest.Legacy.Update with the earlier portal's statement.
func (l Legacy) Update(ctx context.Context, table, id, data string) error {
	return l.immediate(ctx, func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE `+bracket(table)+` SET data = ? WHERE id = ?`, data, id)
		return err
	})
}

// Delete implements persisttest.Legacy.Delete with the earlier portal's statement.
func (l Legacy) Delete(ctx context.Context, table, id string) error {
	return l.exec(ctx, `DELETE FROM `+bracket(table)+` WHERE id = ?`, id)
}

// Clear implements persisttest.Legacy.Clear with the earlier portal's statement.
func (l Legacy) Clear(ctx context.Context, table string) error {
	return l.exec(ctx, `DELETE FROM `+bracket(table))
}

// Save implements persisttest.Legacy.Save with the earlier portal's statement.
func (l Legacy) Save(ctx context.Context, table string, recs [][2]string) error {
	return l.immediate(ctx, func(c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `DELETE FROM `+bracket(table)); err != nil {
			return err
		}
		for _, r := range recs {
			if _, err := c.ExecContext(ctx, `INSERT INTO `+bracket(table)+` (id, data) VALUES (?, ?)`, r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rows implements persisttest.Legacy.Rows with the earlier portal's statement.
func (l Legacy) Rows(ctx context.Context, table string) ([][2]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, data FROM `+bracket(table)+` ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var r [2]string
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// OpenLegacy opens the earlier portal's connection to path, with its
// pragmas.
func OpenLegacy(tb testing.TB, path string) Legacy {
	tb.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return Legacy{raw}
}
