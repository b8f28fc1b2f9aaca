package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
	"github.com/persistkit/persist/internal/retry"
)

type busy struct{}

func (busy) Error() string   { return "database is locked" }
func (busy) Transient() bool { return true }

var fast = persist.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Millisecond}

func TestDo(t *testing.T) {
	t.Run("RetriesTransientUntilSuccess", func(t *testing.T) {
		n := 0
		err := retry.Do(context.Background(), fast, nil, "get", func(context.Context) error {
			n++
			if n < 3 {
				return busy{}
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Errorf("err=%v attempts=%d, want nil after 3", err, n)
		}
	})
	t.Run("GivesUpAfterMaxAttempts", func(t *testing.T) {
		n := 0
		err := retry.Do(context.Background(), fast, nil, "get", func(context.Context) error { n++; return busy{} })
		if !persist.IsTransient(err) || n != 3 {
			t.Errorf("err=%v attempts=%d, want the transient error after 3", err, n)
		}
	})
	t.Run("NoRetryOnPermanent", func(t *testing.T) {
		n := 0
		err := retry.Do(context.Background(), fast, nil, "get", func(context.Context) error { n++; return persist.ErrNotFound })
		if !errors.Is(err, persist.ErrNotFound) || n != 1 {
			t.Errorf("err=%v attempts=%d, want ErrNotFound after 1", err, n)
		}
	})
	t.Run("SingleAttempt", func(t *testing.T) {
		n := 0
		p := fast
		p.MaxAttempts = 1
		err := retry.Do(context.Background(), p, nil, "get", func(context.Context) error { n++; return busy{} })
		if err == nil || n != 1 {
			t.Errorf("err=%v attempts=%d, want an error after 1", err, n)
		}
	})
	t.Run("ContextCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := persist.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Hour, MaxDelay: time.Hour}
		n := 0
		err := retry.Do(ctx, p, nil, "get", func(context.Context) error { n++; cancel(); return busy{} })
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Errorf("err=%v attempts=%d, want context.Canceled after 1", err, n)
		}
		if !persist.IsTransient(err) {
			t.Errorf("err=%v, want the last attempt's error kept", err)
		}
	})
}

type lastOp struct{ op persist.Operation }

func (l *lastOp) Start(ctx context.Context, _ *persist.Operation) context.Context { return ctx }
func (l *lastOp) End(_ context.Context, op *persist.Operation)                    { l.op = *op }

// A retry is recorded on the operation observed in the context, with the
// class of the error that caused it; the first attempt is not a retry.
func TestDoObserved(t *testing.T) {
	rec := &lastOp{}
	h := observe.New(rec, "sqlite", "", "", 0)
	ctx, op := h.Start(context.Background(), "get", "t", 0)
	n := 0
	err := retry.Do(ctx, fast, nil, "get", func(context.Context) error {
		n++
		if n < 3 {
			return busy{}
		}
		return nil
	})
	op.End(&err)
	if rec.op.Attempts != 3 || len(rec.op.Retries) != 2 || rec.op.Retries[0] != "transient" {
		t.Errorf("Attempts=%d Retries=%v, want 3 and two retries", rec.op.Attempts, rec.op.Retries)
	}
	ctx, op = h.Start(context.Background(), "get", "t", 0)
	err = retry.Do(ctx, fast, nil, "get", func(context.Context) error { return nil })
	op.End(&err)
	if rec.op.Attempts != 1 || len(rec.op.Retries) != 0 {
		t.Errorf("Attempts=%d Retries=%v, want 1 and none", rec.op.Attempts, rec.op.Retries)
	}
}
