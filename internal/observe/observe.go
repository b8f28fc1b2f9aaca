// Package observe calls a [persist.Observer] around the operations of both
// backends, so that what an Operation holds, when Start and End are called,
// and what a retry records are decided once.
//
// A backend keeps one [Hook] per DB and calls it at the entry of every
// operation:
//
//	func (s *Store) Get(ctx context.Context, id string) (_ persist.Record, err error) {
//		ctx, op := s.db.obs.Start(ctx, "get", s.t.name, 0)
//		defer op.End(&err)
//		...
//
// With no Observer, Start returns ctx and a nil *Op whose methods do
// nothing: no allocation, no clock read, no context value.
package observe

import (
	"context"
	"errors"
	"time"

	"github.com/persistkit/persist"
)

// Hook is a DB's Observer and the names it reports for the DB. The zero
// Hook observes nothing.
type Hook struct {
	o                persist.Observer
	system, ns, addr string
	port             int
}

// New returns the Hook of a DB of the given system (db.system.name),
// namespace and server; o may be nil.
func New(o persist.Observer, system, namespace, addr string, port int) Hook {
	return Hook{o: o, system: system, ns: namespace, addr: addr, port: port}
}

// On reports whether an Observer is set.
func (h *Hook) On() bool { return h.o != nil }

// Op is one observed operation in flight. A nil *Op observes nothing.
type Op struct {
	persist.Operation
	o   persist.Observer
	ctx context.Context // the Observer's, for End
}

// key finds the operation in flight in a context, for [Retry].
type key struct{}

// Start begins observing the operation name on table (records as in
// [persist.Operation.Records]) and returns the context to run it under.
func (h *Hook) Start(ctx context.Context, name, table string, records int) (context.Context, *Op) {
	if h.o == nil {
		return ctx, nil
	}
	return h.start(ctx, name, table, records)
}

func (h *Hook) start(ctx context.Context, name, table string, records int) (context.Context, *Op) {
	op := &Op{o: h.o}
	op.Operation = persist.Operation{
		System: h.system, Namespace: h.ns, ServerAddress: h.addr, ServerPort: h.port,
		Name: name, Table: table, Records: records, Attempts: 1, Start: time.Now(),
	}
	ctx = context.WithValue(ctx, key{}, op)
	op.ctx = h.o.Start(ctx, &op.Operation)
	if op.ctx == nil {
		op.ctx = ctx
	}
	return op.ctx, op
}

// End reports the operation's outcome, *errp. It is meant to be deferred
// with a pointer to the method's named error result.
func (op *Op) End(errp *error) {
	if op == nil {
		return
	}
	op.end(*errp)
}

func (op *Op) end(err error) {
	op.Err = err
	op.Duration = time.Since(op.Start)
	op.o.End(op.ctx, &op.Operation)
}

// Add adds n to the operation's record count.
func (op *Op) Add(n int) {
	if op != nil {
		op.Records += n
	}
}

// Iter observes an iterator's run, from the first iteration to the last:
// it returns the context to run it under, a yield that counts the
// records and keeps the error passed to the caller's yield, and the
// function to defer that ends the operation. With no Observer it returns
// ctx and yield as they are and a function that does nothing.
func Iter[T any](h *Hook, ctx context.Context, name, table string, yield func(T, error) bool) (context.Context, func(T, error) bool, func()) {
	if h.o == nil {
		return ctx, yield, nop
	}
	ctx, op := h.start(ctx, name, table, 0)
	var err error
	counted := func(v T, e error) bool {
		if e != nil {
			err = e
		} else {
			op.Records++
		}
		return yield(v, e)
	}
	return ctx, counted, func() { op.end(err) }
}

func nop() {}

// Retry records, on the operation running under ctx, that it starts again
// after err, a transient failure. It costs a context lookup, and is called
// only when a retry is about to happen.
func Retry(ctx context.Context, err error) {
	op, _ := ctx.Value(key{}).(*Op)
	if op == nil {
		return
	}
	op.Attempts++
	op.Retries = append(op.Retries, Reason(err))
}

// Reason names the class of a transient error: the Reason of a backend's
// transient marker (TransientReason: "busy", "serialization_failure", "deadlock",
// "unavailable"), else "transient".
func Reason(err error) string {
	var r interface{ TransientReason() string }
	if errors.As(err, &r) {
		if s := r.TransientReason(); s != "" {
			return s
		}
	}
	return "transient"
}
