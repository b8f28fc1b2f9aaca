// Package otelpersist reports what persist does to OpenTelemetry: a span
// and a duration measurement for every operation of a DB and its stores,
// following OpenTelemetry's semantic conventions for database clients,
// the connection pools' figures, and the budget gate's decisions.
//
// Set its [Observer] in [persist.Options]:
//
//	obs, err := otelpersist.New(nil) // the global TracerProvider and MeterProvider
//	if err != nil {
//		return err
//	}
//	db, err := persist.Open(ctx, url, &persist.Options{Observer: obs})
//
// Each operation is a client span named "{db.operation.name}
// {db.collection.name}" ("get users", "tx"), with db.system.name ("sqlite"
// or "postgresql"), db.collection.name, db.operation.name, db.namespace,
// server.address and server.port, and, when it fails, error.type and an
// Error status. Its duration is recorded in the db.client.operation.duration
// histogram (seconds, the conventions' buckets) with the same attributes.
// A retried operation has one "retry" event per retry and is counted in
// persist.client.operation.retries, both with the reason
// (persist.retry.reason: busy, serialization_failure, deadlock,
// unavailable).
//
// No attribute, event or status ever holds an id, a document, an error
// message, a password or a token: error.type is the name of the sentinel
// the error matches ("not_found", "conflict", "invalid", "closed",
// "unavailable", "canceled", "deadline_exceeded", "cursor_expired"), or
// "_OTHER".
//
// Besides operations, the same Observer exports a DB's connection pools
// ([Observer.Pools]), a budget Ledger's decisions (it is a
// [budget.Observer]: set it in [budget.Options] too) and a migration's
// progress ([Observer.Progress]).
//
// This package is the only one of the module that imports OpenTelemetry,
// so a program that does not import it does not link it.
package otelpersist
