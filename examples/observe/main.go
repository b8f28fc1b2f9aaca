// Command observe prints the OpenTelemetry spans of two store operations
// to stdout: the program of the README's Observability section, whole.
package main

import (
	"context"
	"encoding/json"
	"log"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/otelpersist"
	_ "github.com/persistkit/persist/sqlite"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	ctx := context.Background()
	exp, err := stdouttrace.New(stdouttrace.WithPrettyPrint())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)

	obs, err := otelpersist.New(&otelpersist.Options{TracerProvider: tp}) // nil: the global providers
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
	users.Put(ctx, persist.Record{ID: "u1", Data: json.RawMessage(`{"name":"Ada"}`)}) // span "put users"
	users.Get(ctx, "u2")                                                              // span "get users", error.type not_found
}
