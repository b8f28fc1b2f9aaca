package sqlite

import (
	"context"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/retry"
)

// retry runs fn, and runs it again under the retry policy while it fails
// with a transient error. In SQLite a busy or locked error means the
// statement or transaction did nothing, so every operation, writes
// included, is safe to repeat.
//
// The first attempt runs outside retry.Do, so that the common case costs
// no backoff state.
func (db *DB) retry(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	try := func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return db.mapErr(ctx, err)
		}
		return nil
	}
	err := try(ctx)
	if err == nil || db.policy.MaxAttempts <= 1 || !persist.IsTransient(err) {
		return err
	}
	p := db.policy
	p.MaxAttempts--
	return retry.Do(ctx, p, db.log, op, try)
}
