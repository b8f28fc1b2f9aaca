// Package persist is a context-first store of JSON documents in named
// tables, embedded on SQLite on day one and on PostgreSQL in production,
// behind one contract.
//
// # Opening a database
//
// [Open] dispatches on the URL scheme to a backend registered by a blank
// import, the way database/sql drivers are:
//
//	import _ "github.com/persistkit/persist/sqlite"
//
//	db, err := persist.Open(ctx, "sqlite:///var/lib/app/portal.db", nil)
//	if err != nil { ... }
//	defer db.Close()
//
// [OpenEnv] reads DATABASE_URL. An unknown scheme fails with
// [ErrUnknownScheme] and names the import that provides it.
//
// # Stores and records
//
// [DB.Store] returns a [Store], one table of [Record] values: an id, a JSON
// object, a revision and timestamps. Put upserts, Insert creates, Update
// merges top-level fields, UpdateFunc is an atomic read-modify-write, and
// List and Query return iterators in insertion order:
//
//	sources, err := db.Store("sources")
//	rec, err := sources.Put(ctx, persist.Record{ID: "src-1", Data: json.RawMessage(`{"name":"lake"}`)})
//	for rec, err := range sources.Query(ctx, json.RawMessage(`{"enabled":true}`), nil) { ... }
//
// [Typed] gives the same operations on your own struct type. [DB.Tx] runs
// several stores in one transaction.
//
// Numbers keep their exact value on every backend. Strings may not contain
// U+0000 or unpaired surrogates, because PostgreSQL cannot store them; every
// backend rejects them alike with [ErrInvalid].
//
// # Queries and indexes
//
// A [Query] filters on nested fields (== != < <= > >= in not-in exists
// missing), sorts by fields or newest first, and pages by opaque cursors;
// [Store.Find] streams it, [Store.FindPage] returns a page and the next
// cursor, [Store.CountWhere] counts:
//
//	q := persist.Where("pipeline", "==", "p7").Where("status", "==", "failed").
//		OrderBy("started", persist.Desc).Limit(20)
//	for rec, err := range runs.Find(ctx, q) { ... }
//
// Numbers compare exactly, strings by code point, and values of different
// types in one documented order, the same on every backend. [EnsureIndex]
// declares an index that serves such queries and [Explain] asks the
// database whether it does.
//
// # Errors
//
// Errors are [*Error] values naming the operation, table and id, wrapping a
// sentinel for [errors.Is]: [ErrNotFound], [ErrConflict], [ErrInvalid],
// [ErrClosed], [ErrUnknownScheme]. A database that cannot be reached gives a
// [*ConnError], which matches [ErrUnavailable]. Bad input changes nothing.
// Every operation checks in one order, the same on every backend: a closed
// DB first, then the context, then the input.
// Passwords are redacted from every URL in errors and logs ([Redact]).
//
// # Concurrency and retries
//
// A [DB] and its stores are safe for concurrent use. Transient failures
// (busy or locked database, serialization failure, deadlock, a connection
// lost before the statement was sent; see [IsTransient]) are retried under
// a [RetryPolicy]: three attempts with jittered exponential backoff by
// default. A write whose outcome is unknown is never retried blindly.
//
// # Observability
//
// An [Observer] in [Options] is told of every operation: its name, table,
// record count, attempts with the reason of each retry, duration and
// outcome ([Operation.Outcome]). Package otelpersist turns that into
// OpenTelemetry spans and metrics; a DB that is a [PoolStater] reports its
// connection pools.
//
// # Backends
//
//   - github.com/persistkit/persist/sqlite: modernc.org/sqlite, pure Go,
//     WAL, one writer connection plus a reader pool.
//   - github.com/persistkit/persist/postgres: pgx/v5 with JSONB and an
//     optional GIN index, and Azure Entra ID tokens.
//
// Package persisttest is the conformance suite every backend passes; it is
// the precise statement of the contract above. Package budget builds
// three-tier spend limits on any DB, and package migrate copies tables
// between backends with verification.
//
// # Deprecations
//
// [SyncStore] wraps a Store in the earlier blocking, context-free API so
// callers can move one call site at a time. It is deprecated and will be
// removed in v0.2.0: the module is at v0.x, and a deprecated name is kept
// for one minor release. staticcheck reports each remaining use as SA1019.
package persist
