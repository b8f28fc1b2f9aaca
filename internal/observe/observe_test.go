package observe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/observe"
)

// op is what a backend's method does with the Hook.
func op(h *observe.Hook, ctx context.Context) (err error) {
	ctx, o := h.Start(ctx, "get", "t", 0)
	defer o.End(&err)
	o.Add(1)
	return ctx.Err()
}

// iterate is what a backend's iterator does with the Hook.
func iterate(h *observe.Hook, ctx context.Context, yield func(int, error) bool) {
	ctx, yield, end := observe.Iter(h, ctx, "list", "t", yield)
	defer end()
	yield(1, ctx.Err())
}

func TestNoObserverCostsNoAllocation(t *testing.T) {
	var h observe.Hook
	ctx := context.Background()
	yield := func(int, error) bool { return true }
	if n := testing.AllocsPerRun(1000, func() { _ = op(&h, ctx) }); n != 0 {
		t.Errorf("Start and End with no Observer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { iterate(&h, ctx, yield) }); n != 0 {
		t.Errorf("Iter with no Observer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { observe.Retry(ctx, errors.New("x")) }); n > 1 {
		t.Errorf("Retry with no operation: %v allocations, want only the error's", n)
	}
}

type counter struct{ starts, ends int }

func (c *counter) Start(ctx context.Context, op *persist.Operation) context.Context {
	c.starts++
	return ctx
}
func (c *counter) End(ctx context.Context, op *persist.Operation) { c.ends++ }

func BenchmarkStartEnd(b *testing.B) {
	ctx := context.Background()
	b.Run("None", func(b *testing.B) {
		var h observe.Hook
		b.ReportAllocs()
		for b.Loop() {
			_ = op(&h, ctx)
		}
	})
	b.Run("Observer", func(b *testing.B) {
		h := observe.New(&counter{}, "sqlite", "", "", 0)
		b.ReportAllocs()
		for b.Loop() {
			_ = op(&h, ctx)
		}
	})
}

type reasoned struct{ why string }

func (r reasoned) Error() string           { return "busy" }
func (r reasoned) Transient() bool         { return true }
func (r reasoned) TransientReason() string { return r.why }

func TestRetry(t *testing.T) {
	var got persist.Operation
	rec := &recorder{end: func(op *persist.Operation) { got = *op }}
	h := observe.New(rec, "postgresql", "db|public", "db.example", 5432)
	ctx, o := h.Start(context.Background(), "put", "t", 0)
	observe.Retry(ctx, reasoned{"deadlock"})
	observe.Retry(ctx, errors.Join(errors.New("x"), reasoned{""}))
	err := errors.New("done")
	o.End(&err)
	if got.Attempts != 3 || len(got.Retries) != 2 || got.Retries[0] != "deadlock" || got.Retries[1] != "transient" {
		t.Errorf("Attempts=%d Retries=%v, want 3 [deadlock transient]", got.Attempts, got.Retries)
	}
	if got.Err != err || got.System != "postgresql" || got.Namespace != "db|public" || got.ServerAddress != "db.example" || got.ServerPort != 5432 {
		t.Errorf("operation %+v, want the error and the DB's names", got)
	}
	if got.Duration <= 0 && got.Start.IsZero() {
		t.Errorf("Start=%v Duration=%v, want them set", got.Start, got.Duration)
	}
}

type recorder struct{ end func(*persist.Operation) }

func (r *recorder) Start(ctx context.Context, op *persist.Operation) context.Context { return ctx }
func (r *recorder) End(ctx context.Context, op *persist.Operation)                   { r.end(op) }
