// Package retry runs a [persist.RetryPolicy] with github.com/sethvargo/go-retry.
package retry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/persistkit/persist"
	goretry "github.com/sethvargo/go-retry"
)

// Do calls fn until it succeeds, returns an error that is not transient
// (see [persist.IsTransient]), the policy's attempts run out, or ctx is
// done. The last error is returned unchanged. Callers only pass fn that are
// safe to repeat: reads, and writes whose failed attempt is known not to
// have been applied.
func Do(ctx context.Context, p persist.RetryPolicy, log *slog.Logger, op string, fn func(ctx context.Context) error) error {
	if p.MaxAttempts <= 1 {
		return fn(ctx)
	}
	b := goretry.NewExponential(p.BaseDelay)
	b = goretry.WithCappedDuration(p.MaxDelay, b)
	b = goretry.WithFullJitter(b)
	b = goretry.WithMaxRetries(uint64(p.MaxAttempts-1), b)
	attempt := 0
	var last error
	err := goretry.Do(ctx, b, func(ctx context.Context) error {
		attempt++
		err := fn(ctx)
		last = err
		if err == nil || !persist.IsTransient(err) {
			return err
		}
		if ctx.Err() != nil {
			return withCtx(ctx, err)
		}
		if log != nil && attempt < p.MaxAttempts {
			log.LogAttrs(ctx, slog.LevelDebug, "persist: retrying transient error",
				slog.String("op", op), slog.Int("attempt", attempt), slog.String("error", err.Error()))
		}
		return goretry.RetryableError(err)
	})
	// go-retry returns only the context's error when it ends during a
	// backoff; keep the operation's own error visible too.
	if err != nil && last != nil && err != last && ctx.Err() != nil && errors.Is(err, ctx.Err()) && !errors.Is(err, last) {
		return withCtx(ctx, last)
	}
	return err
}

// withCtx reports that ctx ended while err was being retried, so callers
// see both errors.Is(err, context.Canceled) and the transient cause.
func withCtx(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (last attempt: %w)", context.Cause(ctx), err)
}
