package persist

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Record is one JSON document in a table.
type Record struct {
	// ID identifies the record within its table: up to 2048 bytes of valid
	// UTF-8 without U+0000. Ids are checked for what a backend cannot store
	// (PostgreSQL's text holds no U+0000, and its B-tree index entries at
	// most 2704 bytes), not for style, so every id the earlier portal's
	// writers stored can be reached, the empty one included. Put and
	// Insert generate a time-ordered UUID (version 7) when ID is empty;
	// Get, Update, UpdateFunc, Delete and InsertMany take it as the id.
	ID string

	// Data is the document. It must be a JSON object. Numbers keep their
	// exact value (they are never routed through float64); strings must not
	// contain U+0000 or unpaired surrogates, which PostgreSQL cannot store,
	// so every backend rejects them with [ErrInvalid].
	Data json.RawMessage

	// Revision starts at 1 and grows by one on every write. On input to
	// Put and Update a non-zero Revision is a
	// precondition: the write fails with [ErrConflict] unless the stored
	// revision is equal. A negative Revision is [ErrInvalid] on every
	// write.
	Revision int64

	// Created and Updated are set by the store, in UTC.
	Created time.Time
	Updated time.Time
}

// InsertResult reports the outcome of [Store.InsertMany].
type InsertResult struct {
	Inserted int // records written
	Skipped  int // records whose id already existed; left untouched
}

// Order is the order of a listing.
type Order int

const (
	// ByInsertion lists records in the order they were first written;
	// updates do not move a record. It is the default.
	ByInsertion Order = iota

	// ByID lists records by id, compared as bytes (UTF-8 code point
	// order), the same on every backend. Migration verifies two tables by
	// merging two such listings.
	ByID
)

// ListOptions pages through a table. The zero value (or nil) lists
// everything in insertion order.
type ListOptions struct {
	// Limit caps the number of records; 0 means no limit. Negative is
	// [ErrInvalid].
	Limit int

	// After resumes after the record with this id (the last id of the
	// previous page). In insertion order, if After names a record that no
	// longer exists the iterator yields an error matching [ErrNotFound]; in
	// id order it need not exist.
	After string

	// Order is [ByInsertion] (the default) or [ByID]. Other values are
	// [ErrInvalid].
	Order Order
}

// UpdateFunc computes a record's new data from its current state. Returning
// an error aborts the update and nothing is written.
type UpdateFunc func(current Record) (json.RawMessage, error)

// Store is one table of JSON documents. Methods take a context first, are
// safe for concurrent use, and return errors that match [ErrInvalid] for bad
// input (nothing is written), [ErrClosed] after [DB.Close], and
// [ErrUnavailable] when the database cannot be reached. Errors are
// [*Error] values naming the operation, table and id.
//
// Every backend passes the conformance suite in package persisttest, which
// is the precise statement of this contract.
type Store interface {
	// Name returns the table name.
	Name() string

	// Get returns the record with the given id, or [ErrNotFound].
	Get(ctx context.Context, id string) (Record, error)

	// Put creates or replaces a record and returns it as stored. An empty
	// ID is generated. A non-zero Revision must match the stored revision
	// (a missing record has revision 0), else [ErrConflict].
	Put(ctx context.Context, rec Record) (Record, error)

	// Insert creates a record and returns it as stored, or fails with
	// [ErrConflict] if the id exists. An empty ID is generated.
	Insert(ctx context.Context, rec Record) (Record, error)

	// InsertMany creates records in order, skipping (and counting) ids that
	// already exist; existing records are never modified. Revision,
	// Created and Updated are kept when set, so copies are faithful; a set
	// time outside the years 1 to 9999 is [ErrInvalid], since not every
	// backend could store it. Each
	// batch is one transaction; on error the batches already committed
	// stay written and the result counts them. Every record is validated
	// before anything is written: one bad record fails the call with
	// [ErrInvalid] and writes nothing. An empty ID is kept as the id, not
	// generated, so a copy keeps every record the earlier portal stored. A
	// batch cut off by a lost connection is retried, since skipping existing ids
	// makes that harmless; if its commit had in fact landed, its records
	// count as skipped rather than inserted.
	InsertMany(ctx context.Context, recs []Record) (InsertResult, error)

	// Update merges patch.Data into the stored object: each top-level key
	// of the patch replaces the stored key (a null value stores null). It
	// returns the updated record, [ErrNotFound] if the record is missing,
	// or [ErrConflict] if patch.Revision is non-zero and does not match.
	Update(ctx context.Context, patch Record) (Record, error)

	// UpdateFunc atomically reads the record, calls fn and stores what fn
	// returns. No concurrent write is lost. If fn returns an error, nothing
	// is written and the error is returned wrapped. fn may be called more
	// than once when the transaction is retried, so it must not have side
	// effects. [ErrNotFound] if the record is missing.
	UpdateFunc(ctx context.Context, id string, fn UpdateFunc) (Record, error)

	// Delete removes the record and reports whether it existed.
	Delete(ctx context.Context, id string) (bool, error)

	// List returns the records in the order opts asks, insertion order by
	// default. Nothing is read until
	// the iterator is ranged over; memory stays bounded whatever the table
	// size. On failure it yields one non-nil error and stops.
	List(ctx context.Context, opts *ListOptions) iter.Seq2[Record, error]

	// Query is List restricted to records whose top-level fields equal the
	// filter's, as a [Query] of == conditions matches them: compared by
	// JSON value and type, {"n":1} matches 1 and 1.0 but not "1"; true is
	// not 1; null matches a null field but not a
	// missing one. filter is a JSON object of scalars (strings, numbers,
	// booleans, null); {} matches everything. Keys match
	// ^[A-Za-z_][A-Za-z0-9_-]{0,127}$. Anything else is [ErrInvalid],
	// yielded by the iterator.
	Query(ctx context.Context, filter json.RawMessage, opts *ListOptions) iter.Seq2[Record, error]

	// Find returns the records q matches, in q's order, at most q's
	// limit, after q's cursor (see [Query] for the exact semantics, the
	// same on every backend). Each matching record is read once: the
	// backend runs one statement, or pages that resume by sort key,
	// never the whole query again per page. Nothing is read until the
	// iterator is ranged over, memory stays bounded, and on failure it
	// yields one non-nil error and stops; a bad query is [ErrInvalid].
	// Outside a transaction the iteration may hold one connection until
	// it ends, so a loop body that writes needs a second one (every
	// default configuration has it).
	Find(ctx context.Context, q Query) iter.Seq2[Record, error]

	// FindPage returns one page of what Find returns: at most q's limit
	// (100 when 0, at most 1000) records, and in [Page.Next] the cursor
	// that resumes after them, empty when none follow.
	FindPage(ctx context.Context, q Query) (Page, error)

	// Count returns the number of records.
	Count(ctx context.Context) (int64, error)

	// CountWhere returns the number of records q's conditions match; its
	// order, limit and cursor do not change the count.
	CountWhere(ctx context.Context, q Query) (int64, error)

	// Clear deletes every record and returns how many there were.
	Clear(ctx context.Context) (int64, error)

	// ReplaceAll atomically replaces the table's contents with recs: either
	// every record is replaced or nothing changes. Empty IDs are generated.
	// Duplicate IDs in recs are [ErrInvalid].
	ReplaceAll(ctx context.Context, recs []Record) error
}

// Tx gives the stores of one transaction. A Store obtained from a Tx must not
// be used after the transaction function returns.
type Tx interface {
	// Store returns the named table inside the transaction, creating it on
	// first use. An invalid name is [ErrInvalid].
	Store(name string) (Store, error)
}

// DB is a handle to one database. It is safe for concurrent use by many
// goroutines and should be long-lived: open it once, share it, close it on
// shutdown.
type DB interface {
	// Store returns the named table. It does no I/O: the table is created
	// by the first operation that uses it, under that operation's context.
	// Names match ^[a-z_][a-z0-9_]{0,62}$; anything else is [ErrInvalid].
	Store(name string) (Store, error)

	// Tables lists the tables that hold records, sorted by name.
	Tables(ctx context.Context) ([]string, error)

	// Tx runs fn in one transaction across any number of stores. If fn
	// returns an error the transaction is rolled back and the error is
	// returned; otherwise it is committed. When the transaction fails with
	// a transient error (see [IsTransient]) Tx may run fn again, so fn must
	// not have side effects outside the transaction. Inside fn, use only
	// stores from tx: on a backend with a single writer (SQLite) a write
	// through the DB's own stores waits for the transaction, that is until
	// its context ends.
	Tx(ctx context.Context, fn func(tx Tx) error) error

	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error

	// Close releases every resource the DB holds. It is idempotent; after
	// it, every method returns [ErrClosed].
	Close() error
}
