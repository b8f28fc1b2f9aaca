package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/persistkit/persist/internal/ident"
)

// Legacy implements persisttest.Legacy: it issues the earlier portal's
// own statements, exactly, on a
// pool of its own.
type Legacy struct{ pool *pgxpool.Pool }

func (l Legacy) exec(ctx context.Context, q string, args ...any) error {
	_, err := l.pool.Exec(ctx, q, args...)
	return err
}

// CreateTable implements persisttest.Legacy.CreateTable with the earlier portal's statement.
func (l Legacy) CreateTable(ctx context.Context, table string) error {
	return l.exec(ctx, `CREATE TABLE IF NOT EXISTS `+ident.Quote(table)+` (id TEXT PRIMARY KEY, data JSONB NOT NULL)`)
}

// Add implements persisttest.Legacy.Add with the earlier portal's statement.
func (l Legacy) Add(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT INTO `+ident.Quote(table)+` (id, data) VALUES ($1, CAST($2 AS JSONB)) `+
		`ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`, id, data)
}

// Insert implements persisttest.Legacy.Insert with the earlier portal's statement.
func (l Legacy) Insert(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT INTO `+ident.Quote(table)+` (id, data) VALUES ($1, CAST($2 AS JSONB))`, id, data)
}

// InsertOrIgnore implements persisttest.Legacy.InsertOrIgnore with the earlier portal's statement.
func (l Legacy) InsertOrIgnore(ctx context.Context, table, id, data string) error {
	return l.exec(ctx, `INSERT INTO `+ident.Quote(table)+` (id, data) VALUES ($1, CAST($2 AS JSONB)) ON CONFLICT (id) DO NOTHING`, id, data)
}

// Update implements persisttest.Legacy.Update with the earlier portal's statement.
func (l Legacy) Update(ctx context.Context, table, id, data string) error {
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		var old []byte
		if err := tx.QueryRow(ctx, `SELECT data FROM `+ident.Quote(table)+` WHERE id = $1 FOR UPDATE`, id).Scan(&old); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE `+ident.Quote(table)+` SET data = CAST($1 AS JSONB) WHERE id = $2`, data, id)
		return err
	})
}

// Delete implements persisttest.Legacy.Delete with the earlier portal's statement.
func (l Legacy) Delete(ctx context.Context, table, id string) error {
	return l.exec(ctx, `DELETE FROM `+ident.Quote(table)+` WHERE id = $1`, id)
}

// Clear implements persisttest.Legacy.Clear with the earlier portal's statement.
func (l Legacy) Clear(ctx context.Context, table string) error {
	return l.exec(ctx, `DELETE FROM `+ident.Quote(table))
}

// Save implements persisttest.Legacy.Save with the earlier portal's statement.
func (l Legacy) Save(ctx context.Context, table string, recs [][2]string) error {
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+ident.Quote(table)); err != nil {
			return err
		}
		for _, r := range recs {
			if _, err := tx.Exec(ctx, `INSERT INTO `+ident.Quote(table)+` (id, data) VALUES ($1, CAST($2 AS JSONB))`, r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rows implements persisttest.Legacy.Rows with the earlier portal's statement.
func (l Legacy) Rows(ctx context.Context, table string) ([][2]string, error) {
	rows, err := l.pool.Query(ctx, `SELECT id, data::text FROM `+ident.Quote(table)+` ORDER BY ctid`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var out [2]string
		err := r.Scan(&out[0], &out[1])
		return out, err
	})
}

// OpenLegacy opens the earlier portal's writer on the database at u, closed
// when the test ends.
func OpenLegacy(tb testing.TB, u string) Legacy {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		tb.Fatalf("legacy pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return Legacy{pool}
}
