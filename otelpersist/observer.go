package otelpersist

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/persistkit/persist"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dbconv"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter this
// package uses.
const ScopeName = "github.com/persistkit/persist/otelpersist"

// Options configure an [Observer]. A nil *Options means the defaults.
type Options struct {
	// TracerProvider makes the spans. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// MeterProvider makes the metrics. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// durationBuckets are the bucket boundaries, in seconds, that the
// conventions give db.client.operation.duration.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// retryReasonKey is the attribute that says why an operation was retried.
const retryReasonKey = attribute.Key("persist.retry.reason")

// Observer is a [persist.Observer] that makes a span and a duration
// measurement of every operation (see the package documentation), and a
// [budget.Observer] that counts a Ledger's decisions ([Observer.Observe]).
// One Observer may serve any number of DBs and Ledgers; it is safe for
// concurrent use.
type Observer struct {
	tracer   trace.Tracer
	meter    metric.Meter
	duration dbconv.ClientOperationDuration
	retries  metric.Int64Counter
	pools    poolInstruments
	budget   budgetInstruments

	mu    sync.RWMutex
	kinds map[kindKey]*kind
}

var _ persist.Observer = (*Observer)(nil)

// New returns an Observer that reports to opts' providers. It fails only
// when a provider refuses to create an instrument.
func New(opts *Options) (*Observer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	obs := &Observer{
		tracer: o.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		meter:  o.MeterProvider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)),
		kinds:  map[kindKey]*kind{},
	}
	var err error
	obs.duration, err = dbconv.NewClientOperationDuration(obs.meter, metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, err
	}
	obs.retries, err = obs.meter.Int64Counter("persist.client.operation.retries",
		metric.WithDescription("Retries of database client operations after a transient error, by reason."),
		metric.WithUnit("{retry}"))
	if err != nil {
		return nil, err
	}
	if obs.pools, err = newPoolInstruments(obs.meter); err != nil {
		return nil, err
	}
	if obs.budget, err = newBudgetInstruments(obs.meter); err != nil {
		return nil, err
	}
	return obs, nil
}

// kindKey is what the attributes of an operation depend on.
type kindKey struct {
	system, ns, addr, name, table string
	port                          int
}

// kind holds what every operation of one kindKey shares, built once:
// without it each call would build and sort its attribute set anew.
type kind struct {
	span  string
	attrs []attribute.KeyValue
	set   attribute.Set

	// failed holds the attribute set with each error.type, by its index in
	// errorTypes (the last for "_OTHER"), made on first use.
	failed [len(errorTypes) + 1]atomic.Pointer[attribute.Set]
}

// failedSet returns k's attribute set with error.type et, the i-th.
func (k *kind) failedSet(i int, et attribute.KeyValue) attribute.Set {
	if p := k.failed[i].Load(); p != nil {
		return *p
	}
	set := attribute.NewSet(append(slices.Clip(k.attrs), et)...)
	k.failed[i].Store(&set)
	return set
}

func (o *Observer) kind(op *persist.Operation) *kind {
	key := kindKey{op.System, op.Namespace, op.ServerAddress, op.Name, op.Table, op.ServerPort}
	o.mu.RLock()
	k := o.kinds[key]
	o.mu.RUnlock()
	if k != nil {
		return k
	}
	attrs := []attribute.KeyValue{semconv.DBSystemNameKey.String(op.System), semconv.DBOperationName(op.Name)}
	span := op.Name
	if op.Table != "" {
		attrs = append(attrs, semconv.DBCollectionName(op.Table))
		span += " " + op.Table
	}
	if op.Namespace != "" {
		attrs = append(attrs, semconv.DBNamespace(op.Namespace))
	}
	if op.ServerAddress != "" {
		attrs = append(attrs, semconv.ServerAddress(op.ServerAddress))
		if op.ServerPort != 0 {
			attrs = append(attrs, semconv.ServerPort(op.ServerPort))
		}
	}
	k = &kind{span: span, attrs: slices.Clip(attrs), set: attribute.NewSet(attrs...)}
	o.mu.Lock()
	defer o.mu.Unlock()
	if k2 := o.kinds[key]; k2 != nil {
		return k2
	}
	o.kinds[key] = k
	return k
}

// iterates reports whether op's Records counts what it returned rather
// than what it was given.
func iterates(op *persist.Operation) bool { return op.Name == "list" || op.Name == "query" }

// Start starts the operation's client span.
func (o *Observer) Start(ctx context.Context, op *persist.Operation) context.Context {
	k := o.kind(op)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(op.Start), trace.WithAttributes(k.attrs...)}
	if op.Records > 1 && !iterates(op) {
		opts = append(opts, trace.WithAttributes(semconv.DBOperationBatchSize(op.Records)))
	}
	ctx, _ = o.tracer.Start(ctx, k.span, opts...)
	return ctx
}

// End ends the span Start started and records the duration.
func (o *Observer) End(ctx context.Context, op *persist.Operation) {
	k := o.kind(op)
	span := trace.SpanFromContext(ctx)
	rec := span.IsRecording()
	for i, r := range op.Retries {
		reason := retryReasonKey.String(r)
		if rec {
			span.AddEvent("retry", trace.WithAttributes(reason, attribute.Int("persist.retry.attempt", i+2)))
		}
		o.retries.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(append(slices.Clip(k.attrs), reason)...)))
	}
	set := k.set
	if op.Err != nil {
		i := errorType(op.Err)
		et := errorTypeAttrs[i]
		if rec {
			span.SetAttributes(et)
			span.SetStatus(codes.Error, et.Value.AsString())
		}
		set = k.failedSet(i, et)
	}
	if rec && iterates(op) {
		span.SetAttributes(semconv.DBResponseReturnedRows(op.Records))
	}
	o.duration.RecordSet(ctx, op.Duration.Seconds(), set)
	span.End(trace.WithTimestamp(op.Start.Add(op.Duration)))
}

// errorTypes names each sentinel [persist.Operation.Outcome] returns. It
// is an array, not a map: Outcome may return a caller's own error, whose
// type need not be comparable as a map key.
var errorTypes = [...]struct {
	err  error
	name string
}{
	{persist.ErrClosed, "closed"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{persist.ErrInvalid, "invalid"},
	{persist.ErrNotFound, "not_found"},
	{persist.ErrConflict, "conflict"},
	{persist.ErrCursorExpired, "cursor_expired"},
	{persist.ErrUnavailable, "unavailable"},
	{persist.ErrUnknownScheme, "unknown_scheme"},
}

// errorTypeAttrs are the error.type attributes, by errorType's index.
var errorTypeAttrs = func() []attribute.KeyValue {
	a := make([]attribute.KeyValue, 0, len(errorTypes)+1)
	for _, e := range errorTypes {
		a = append(a, semconv.ErrorTypeKey.String(e.name))
	}
	return append(a, semconv.ErrorTypeOther)
}()

// errorType returns the index in errorTypes of the sentinel that
// [persist.Operation.Outcome] finds in err, or len(errorTypes).
func errorType(err error) int {
	op := persist.Operation{Err: err}
	out := op.Outcome()
	for i, e := range errorTypes {
		if out == e.err {
			return i
		}
	}
	return len(errorTypes)
}

// ErrorType returns the error.type of err: the name of the sentinel that
// [persist.Operation.Outcome] finds in it, or "_OTHER". It never returns
// anything taken from the error's message.
func ErrorType(err error) string {
	return errorTypeAttrs[errorType(err)].Value.AsString()
}
