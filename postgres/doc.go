// Package postgres is the PostgreSQL backend of persist, built on pgx/v5
// and one pgxpool per [DB].
//
// # Opening
//
// Import the package for its side effect to make [persist.Open] accept
// postgres://, postgresql:// and SQLAlchemy-style postgresql+psycopg2://
// (or +psycopg, +asyncpg) URLs, or call [Open] with one. To configure in
// code, as pgxpool does: [ParseConfig] reads the URL into a [Config],
// your code changes it, and [OpenConfig] opens it; what the Config holds
// then wins over what the URL said. [Config.Pool] is pgx's own
// *pgxpool.Config, where pool settings, connection hooks and a pgx
// QueryTracer (such as otelpgx's) are attached:
//
//	cfg, err := postgres.ParseConfig("postgres://app@db.example.com/app?sslmode=verify-full")
//	if err != nil {
//		return err
//	}
//	cfg.Pool.MaxConns = 16
//	cfg.Pool.ConnConfig.Tracer = otelpgx.NewTracer()
//	cfg.QueryIndex = true
//	db, err := postgres.OpenConfig(ctx, cfg)
//
// # Storage
//
// Each store is a table named exactly as the store, in [Config.Schema] (by
// default the connection's current schema):
//
//	id         text PRIMARY KEY
//	data       jsonb NOT NULL
//	seq        bigint identity, insertion order
//	revision   bigint NOT NULL DEFAULT 1
//	created_at timestamptz NOT NULL
//	updated_at timestamptz NOT NULL
//
// created_at and updated_at are the times of the writes, from the client's
// clock, as on SQLite; only a writer that names id and data alone gets the
// server's, from the columns' defaults. The write that replaces a record
// sets its data, its revision plus one and updated_at in every statement
// alike. A row trigger, persist_revision, does the same for an update that
// left the revision alone, which only a writer that names id and data
// makes, so such a write is never lost to a stale revision.
//
// There is an index on seq (unique on tables created before v0.2.0; not
// unique since, so that a distributed PostgreSQL can shard the table by
// id) and, with [Config.QueryIndex] (or
// query_index=true in the URL), a GIN index USING gin (data jsonb_path_ops)
// that serves [Store.Query]'s data @> filter. The index is opt-in because
// every write pays for it; without it Query scans the table. A DB with the
// option adds the index to the tables it opens that lack it, and persist
// never drops it but for the span of a bulk load (see below). The table
// persist_meta records each table's layout version. A table in the earlier
// two-column layout (id text PRIMARY KEY, data jsonb NOT NULL) is upgraded
// in place, in one transaction, the first time a store uses it: the new
// columns are added and seq is numbered in the table's physical order.
//
// [DB.Store] does no I/O. A table is created by the first operation that
// uses it, under that operation's context and pg_advisory_xact_lock, so
// several processes may start at once.
//
// A [Store] is a [persist.BulkLoader]: loading an empty table between
// [Store.BeginBulkLoad] and its finish builds its GIN index, if it has one,
// once at the end instead of row by row, and writes InsertMany's batches
// with a binary COPY (falling back to the INSERT when a batch meets an
// existing id), which package migrate does for every table it copies into
// PostgreSQL.
//
// # Microsoft Entra authentication
//
// With [Config.TokenCredential] set, or the environment variable
// POSTGRES_USE_MANAGED_IDENTITY=true (which uses azidentity's
// DefaultAzureCredential), every new connection authenticates with an
// access token for [TokenScope] as its password, as Azure Database for
// PostgreSQL expects. The token is cached and refreshed
// [Config.TokenRefreshBefore] ahead of expiry by a single request however
// many connections need it; tokens are never logged or put in errors. A URL
// with a password takes precedence and tokens are not used.
//
// # Errors and retries
//
// Driver errors are mapped once: unique violations are
// [persist.ErrConflict]; serialization failures, deadlocks and lost
// connections are transient (see [persist.IsTransient]) and retried under
// [persist.Options.Retry] when repeating the operation is safe: reads, Put
// and Update without a revision, and transactions that failed before
// COMMIT. Connection and authentication failures are [*persist.ConnError].
package postgres
