package main

import (
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/otelpersist"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// traceEnv, set to "stdout", makes the portal print the OpenTelemetry spans
// of every request to stdout as JSON: the request's server span and,
// under it, a span for each store operation it made.
const traceEnv = "PORTAL_TRACE"

// tracing is the OpenTelemetry SDK the portal runs with when traceEnv asks
// for it. A nil *tracing traces nothing.
type tracing struct {
	tp  *sdktrace.TracerProvider
	obs *otelpersist.Observer
}

// startTracing returns the SDK traceEnv asks for, exporting to w, or nil.
func startTracing(w io.Writer) *tracing {
	if os.Getenv(traceEnv) != "stdout" {
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

// handler gives every request a server span, named for its method and
// route once the mux has matched it. The URL is not recorded: its path
// holds record ids.
func (t *tracing) handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	tracer := t.tp.Tracer("github.com/persistkit/persist/examples/portal")
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
