package main

import (
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/budget"
	"github.com/persistkit/persist/otelpersist"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// traceEnv, set to "stdout", does what the -trace flag does.
const traceEnv = "BUDGETGATE_TRACE"

// tracing is the OpenTelemetry SDK the gateway runs with when -trace (or
// traceEnv) asks for it: every request's server span and, under it, a span
// for each store operation the budget checks made, printed as JSON. A nil
// *tracing traces nothing.
type tracing struct {
	tp  *sdktrace.TracerProvider
	obs *otelpersist.Observer
}

// startTracing returns the SDK, exporting to w, when on or traceEnv asks
// for it, else nil.
func startTracing(w io.Writer, on bool) *tracing {
	if !on && os.Getenv(traceEnv) != "stdout" {
		return nil
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return nil
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp})
	if err != nil {
		return nil
	}
	return &tracing{tp: tp, obs: obs}
}

// options sets the Observer on opts.
func (t *tracing) options(opts *persist.Options) *persist.Options {
	if t != nil {
		opts.Observer = t.obs
	}
	return opts
}

// ledgerOptions sets the Observer on opts, so that the Ledger's decisions
// are counted too.
func (t *tracing) ledgerOptions(opts *budget.Options) *budget.Options {
	if t != nil {
		opts.Observer = t.obs
	}
	return opts
}

// handler gives every request a server span, named for its method and
// route once the mux has matched it. The URL is not recorded: a path may
// hold ids.
func (t *tracing) handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	tracer := t.tp.Tracer("github.com/persistkit/persist/examples/budgetgate")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method)))
		defer span.End()
		r = r.WithContext(ctx)
		h.ServeHTTP(w, r)
		if r.Pattern != "" { // set by the mux on the request it routed
			route := strings.TrimPrefix(r.Pattern, r.Method+" ")
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	})
}
