package otelpersist_test

import (
	"encoding/json"
	"testing"

	"github.com/exaring/otelpgx"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/otelpersist"
	"github.com/persistkit/persist/postgres"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A span of the caller's is the parent of the operation's, and the
// operation's the parent of otelpgx's spans for its statements, attached
// through Config.Pool.ConnConfig.Tracer.
func TestSpansNest(t *testing.T) {
	base := pgtest.URL(t)
	schema := pgtest.Schema(t, base, "otel_")
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := postgres.ParseConfig(pgtest.WithSearchPath(t, base, schema, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Observer = obs
	cfg.Pool.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))
	db, err := postgres.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Store("nested")
	if _, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	ctx, handler := tp.Tracer("test").Start(t.Context(), "handler")
	if _, err := s.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	handler.End()

	var get sdktrace.ReadOnlySpan
	for _, sp := range spans.Ended() {
		if sp.Name() == "get nested" {
			get = sp
		}
	}
	if get == nil {
		t.Fatal("no span get nested")
	}
	if get.Parent().SpanID() != handler.SpanContext().SpanID() {
		t.Errorf("get's parent %v, want the handler's span", get.Parent().SpanID())
	}
	children := 0
	for _, sp := range spans.Ended() {
		if sp.Parent().SpanID() == get.SpanContext().SpanID() {
			children++
		}
	}
	if children == 0 {
		t.Error("no pgx span is a child of get's span")
	}
}
