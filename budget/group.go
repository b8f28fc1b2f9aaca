package budget

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// Group commit: operations submitted concurrently in one process are
// combined into shared batches, which the caller's exec runs as one
// transaction each. This file knows nothing of what the operations are;
// the Ledger's batches are in ops.go.
//
// Operations are combined per lane, chosen by a key the caller gives, so
// that operations on the same hot rows meet in one lane. An operation that
// finds its lane idle runs at once, in its caller's goroutine, as the
// lane's leader. One that finds it busy queues; when the leader's batch
// ends, it hands the lane to the first operation still queued, which runs
// everything queued by then as one batch. No goroutine is started, an
// uncontended operation waits for nothing, and under load each lane has
// exactly one batch in flight, which carries everything that arrived during
// the one before.

// lanes is how many lanes a combiner has.
const lanes = 64

// maxBatch bounds the operations in one batch.
const maxBatch = 64

// combiner combines operations of type T into batches run by exec. Its
// zero value needs exec set before use.
type combiner[T any] struct {
	// exec runs ops as one batch. It must finish every op: the combiner
	// reports only operations that never ran.
	exec func(ctx context.Context, ops []T)

	lanes       [lanes]lane[T]
	gated       atomic.Int32           // leaders held by beforeBatch
	beforeBatch atomic.Pointer[func()] // nil, or a test's gate
}

// lane is where operations with the same key meet.
type lane[T any] struct {
	mu    sync.Mutex
	busy  bool // a leader is running a batch
	queue []*call[T]
}

// call states: queued, taken by a leader (or become one), or abandoned by
// its caller.
const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

// call is one operation waiting for, or done by, a leader.
type call[T any] struct {
	op      T
	ctx     context.Context
	state   atomic.Int32
	done    chan struct{} // closed when another leader ran the call
	promote chan struct{} // the call is to lead its lane
	err     error         // its context's error, if it never ran
}

// submit runs op, as the leader of key's lane or in a batch led by
// another. It returns the context's error if ctx ended before op was
// taken into a batch, and then op never runs; once taken, op runs to
// completion and submit waits for it, so the caller always learns whether
// the operation happened.
func (g *combiner[T]) submit(ctx context.Context, key string, op T) error {
	c := &call[T]{op: op, ctx: ctx, done: make(chan struct{}), promote: make(chan struct{}, 1)}
	ln := &g.lanes[stripe(key)]
	ln.mu.Lock()
	if !ln.busy {
		ln.busy = true
		c.state.Store(callTaken)
		ln.mu.Unlock()
		g.lead(ln, c)
		return c.err
	}
	ln.queue = append(ln.queue, c)
	ln.mu.Unlock()
	select {
	case <-c.done:
	case <-c.promote:
		g.lead(ln, c)
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ctx.Err()
		}
		select {
		case <-c.done:
		case <-c.promote:
			g.lead(ln, c)
		}
	}
	return c.err
}

// lead runs c and whatever is queued in ln as one batch, then hands ln to
// the next queued call, or leaves it idle.
func (g *combiner[T]) lead(ln *lane[T], c *call[T]) {
	if hook := g.beforeBatch.Load(); hook != nil {
		g.gated.Add(1)
		(*hook)()
		g.gated.Add(-1)
	}
	ln.mu.Lock()
	batch := []*call[T]{c}
	n := 0
	for n < len(ln.queue) && len(batch) < maxBatch {
		if q := ln.queue[n]; q.state.CompareAndSwap(callQueued, callTaken) {
			batch = append(batch, q)
		}
		n++
	}
	ln.queue = slices.Delete(ln.queue, 0, n)
	ln.mu.Unlock()

	live := make([]*call[T], 0, len(batch))
	ops := make([]T, 0, len(batch))
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.err = err
			continue
		}
		live = append(live, q)
		ops = append(ops, q.op)
	}
	if len(ops) > 0 {
		ctx, release := batchContext(live)
		g.exec(ctx, ops)
		release()
	}
	for _, q := range batch {
		close(q.done)
	}

	ln.mu.Lock()
	defer ln.mu.Unlock()
	for len(ln.queue) > 0 {
		next := ln.queue[0]
		ln.queue = slices.Delete(ln.queue, 0, 1)
		if next.state.CompareAndSwap(callQueued, callTaken) {
			next.promote <- struct{}{}
			return
		}
	}
	ln.busy = false
}

// queued reports how many calls wait, queued or held by beforeBatch.
func (g *combiner[T]) queued() int {
	n := int(g.gated.Load())
	for i := range g.lanes {
		ln := &g.lanes[i]
		ln.mu.Lock()
		n += len(ln.queue)
		ln.mu.Unlock()
	}
	return n
}

// batchContext returns a context for a batch that ends only when every
// call's own context has ended: one impatient caller must not fail the
// others.
func batchContext[T any](calls []*call[T]) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(calls[0].ctx))
	var left atomic.Int32
	left.Store(int32(len(calls)))
	stops := make([]func() bool, len(calls))
	for i, c := range calls {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
