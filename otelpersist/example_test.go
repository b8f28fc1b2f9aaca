package otelpersist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/exaring/otelpgx"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/otelpersist"
	"github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Spans of a DB's operations, recorded in memory. A program passes its
// own TracerProvider and MeterProvider (or nil Options for the global
// ones) and exports them as usual.
func Example() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)

	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	db, err := persist.Open(ctx, "sqlite://:memory:", &persist.Options{Observer: obs})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	users, err := db.Store("users")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := users.Put(ctx, persist.Record{ID: "u1", Data: json.RawMessage(`{"name":"Ada"}`)}); err != nil {
		log.Fatal(err)
	}
	_, err = users.Get(ctx, "u2")
	fmt.Println(err)

	for _, s := range spans.Ended() {
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value.String()
		}
		fmt.Printf("%s: %s, db.system.name=%s error.type=%q\n", s.Name(), s.SpanKind(), attrs["db.system.name"], attrs["error.type"])
	}
	// Output:
	// persist: get users/u2: not found
	// put users: client, db.system.name=sqlite error.type=""
	// get users: client, db.system.name=sqlite error.type="not_found"
}

// On PostgreSQL, pgx's own tracer attaches to the pool's configuration:
// here otelpgx's, whose span for each statement becomes a child of the
// persist operation's span. Leave otelpgx's WithIncludeQueryParameters
// off: the parameters are ids and documents.
func Example_postgres() {
	ctx := context.Background()
	obs, err := otelpersist.New(nil) // the global TracerProvider and MeterProvider
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := postgres.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	cfg.Observer = obs
	cfg.Pool.ConnConfig.Tracer = otelpgx.NewTracer()
	db, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// The pool's figures, read at each collection.
	reg, err := obs.Pools("portal", db)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	users, err := db.Store("users")
	if err != nil {
		log.Fatal(err)
	}
	_, err = users.Get(ctx, "u1") // span "get users", and otelpgx's span of the SELECT under it
	fmt.Println(err)
}
