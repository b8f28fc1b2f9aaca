package persist

import (
	"context"
	"errors"
	"time"
)

// Observer watches the operations of a DB and its stores, for metrics and
// traces. Set one in [Options.Observer]; package otelpersist implements it
// with OpenTelemetry. Without one a backend does no observation work at
// all.
//
// Each operation calls Start once as it begins, before its input is
// checked, and End once when it returns, both on the caller's goroutine
// (for List and Query, on the goroutine ranging the iterator, from the
// first iteration to the last). Operations inside an operation (the plain
// Store methods the root fallbacks call, the stores of a [DB.Tx]) are
// observed too, each with its own Operation.
//
// An Observer is shared by every operation of a DB and must be safe for
// concurrent use. It must not keep op after End returns.
type Observer interface {
	// Start is called as an operation begins. The context it returns is
	// the one the operation runs under and the one End receives, so a
	// tracer can start a span here that the driver's own spans (a pgx
	// QueryTracer's, say) become children of.
	Start(ctx context.Context, op *Operation) context.Context

	// End is called once the operation is over, with op's outcome,
	// attempts and duration filled in.
	End(ctx context.Context, op *Operation)
}

// Operation describes one call of a DB or Store method to an [Observer].
// It carries names and counts only: never a document, an id or a
// credential.
type Operation struct {
	// System is the backend, spelled as OpenTelemetry's db.system.name:
	// "sqlite" or "postgresql".
	System string

	// Namespace is the database: on PostgreSQL the database name and the
	// schema, "portal|public"; on SQLite the file's path, "" in memory.
	Namespace string

	// ServerAddress and ServerPort are the PostgreSQL server the DB
	// connects to first (its host and port); empty and 0 on SQLite.
	ServerAddress string
	ServerPort    int

	// Name is the operation, as in the Op of an [*Error] it returns:
	// "get", "put", "insert", "insert_many", "update", "update_func",
	// "delete", "list", "query", "count", "clear", "replace_all",
	// "get_many" (GetMany and GetManyForUpdate), "put_many",
	// "delete_many", "bulk_load" (BeginBulkLoad), "apply", "tx",
	// "find", "find_page", "count_where", "ensure_index", "explain",
	// "tables", "ping". The change feed's methods are not observed.
	Name string

	// Table is the table, or "" for an operation of the DB as a whole
	// (apply, tx, tables, ping).
	Table string

	// Records counts the records of a call that carries many: those given
	// to InsertMany, ReplaceAll, PutMany, GetMany, GetManyForUpdate and
	// DeleteMany, the writes given to Apply, and those List and Query
	// yielded. It is 0 for the others.
	Records int

	// Start is when the operation began; Duration how long it took, set
	// before End.
	Start    time.Time
	Duration time.Duration

	// Attempts counts the times the operation's work was started: 1, plus
	// one for each retry after a transient error. It is 1 for a call
	// refused before any work.
	Attempts int

	// Retries holds, for each retry, why the attempt before it failed:
	// "busy" (SQLite busy or locked), "serialization_failure" or
	// "deadlock" (PostgreSQL rolled the transaction back), "unavailable"
	// (the connection was lost where repeating the statement is safe), or
	// "transient" for another transient error. len(Retries) is
	// Attempts-1.
	Retries []string

	// Err is the error the operation returned, nil on success. Its
	// message may name the table and the id; see [Operation.Outcome] for
	// a value that never does.
	Err error
}

// Outcome returns the sentinel Err matches, in this order: [ErrClosed],
// [context.Canceled], [context.DeadlineExceeded], [ErrInvalid],
// [ErrNotFound], [ErrConflict], [ErrCursorExpired], [ErrUnavailable],
// [ErrUnknownScheme]. It returns nil on success, and Err itself when it
// matches none of them: an error of the caller's own (an [UpdateFunc]'s,
// say) or a database error persist does not classify.
func (op *Operation) Outcome() error {
	if op.Err == nil {
		return nil
	}
	for _, s := range outcomes {
		if errors.Is(op.Err, s) {
			return s
		}
	}
	return op.Err
}

// outcomes is the order of Outcome: what the caller did (closed the DB,
// gave up) before what the input or the data decided, before the server.
var outcomes = [...]error{
	ErrClosed, context.Canceled, context.DeadlineExceeded,
	ErrInvalid, ErrNotFound, ErrConflict, ErrCursorExpired,
	ErrUnavailable, ErrUnknownScheme,
}
