package sqlite

import (
	"context"

	"github.com/persistkit/persist/internal/retry"
)

// retry runs fn, and runs it again under the retry policy while it fails
// with a transient error. In SQLite a busy or locked error means the
// statement or transaction did nothing, so every operation, writes
// included, is safe to repeat.
func (db *DB) retry(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return retry.Do(ctx, db.policy, db.log, op, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return db.mapErr(ctx, err)
		}
		return nil
	})
}
