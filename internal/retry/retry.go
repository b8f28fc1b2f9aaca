// Package retry runs a [persist.RetryPolicy] with github.com/sethvargo/go-retry.
package retry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
	goretry "github.com/sethvargo/go-retry"
)

// Do calls fn until it succeeds, returns an error that is not transient
// (see [persist.IsTransient]), the policy's attempts run out, or ctx is
// done. The last error is returned unchanged. Callers only pass fn that are
// safe to repeat: reads, and writes whose failed attempt is known not to
// have been applied.
//
// The first attempt runs at once and builds no backoff state, so the
// common case costs one call. Each retry waits its backoff first and is
// recorded on the observed operation in ctx, with the class of the error
// that caused it.
func Do(ctx context.Context, p persist.RetryPolicy, log *slog.Logger, op string, fn func(ctx context.Context) error) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	err := fn(ctx)
	if err == nil || p.MaxAttempts <= 1 || !persist.IsTransient(err) {
		return err
	}
	return again(ctx, p, log, op, err, fn)
}

// again is Do after a first attempt that failed with the transient error
// last.
func again(ctx context.Context, p persist.RetryPolicy, log *slog.Logger, op string, last error, fn func(ctx context.Context) error) error {
	b := goretry.NewExponential(p.BaseDelay)
	b = goretry.WithCappedDuration(p.MaxDelay, b)
	b = goretry.WithFullJitter(b)
	b = goretry.WithMaxRetries(uint64(p.MaxAttempts-1), b)
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return withCtx(ctx, last)
		}
		delay, stop := b.Next()
		if stop {
			return last
		}
		if log != nil {
			log.LogAttrs(ctx, slog.LevelDebug, "persist: retrying transient error",
				slog.String("op", op), slog.Int("attempt", attempt), slog.String("error", last.Error()))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return withCtx(ctx, last)
		case <-t.C:
		}
		observe.Retry(ctx, last)
		err := fn(ctx)
		if err == nil || !persist.IsTransient(err) {
			return err
		}
		last = err
	}
}

// withCtx reports that ctx ended while err was being retried, so callers
// see both errors.Is(err, context.Canceled) and the transient cause.
func withCtx(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (last attempt: %w)", context.Cause(ctx), err)
}
