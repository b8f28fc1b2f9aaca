package persist

import (
	"context"
	"fmt"
)

// Index declares an index on one or more field paths of a table, each
// ascending or descending, for [Indexer.EnsureIndex]. A [Query] whose
// equality conditions cover a prefix of the fields and whose sort keys
// follow the rest (in the same directions, or all reversed) is served by
// it, reading O(log n + k) rows for k results; ties in insertion order are
// part of every index, in the direction of its last field.
type Index struct {
	// Name identifies the index within its table: ^[a-z_][a-z0-9_]{0,30}$.
	Name string
	// Fields are the indexed paths, 1 to 8, with the syntax of a Query's
	// paths; [Inserted] may not be one of them.
	Fields []Sort
}

// Plan says how a database will run a [Query], from its own planner.
type Plan struct {
	// Indexed reports that the query reads through an index, with every
	// condition and the order served by it: no scan of the table, no
	// filtering of rows the index walks past, no sort.
	Indexed bool
	// Index names the index the plan reads, as the database calls it.
	Index string
	// Detail is the database's plan, as text.
	Detail string
}

// Indexer is implemented by stores that can declare indexes and explain
// queries; both backends in this module do. Use [EnsureIndex] and
// [Explain], which fall back when a store has no Indexer.
type Indexer interface {
	// EnsureIndex creates the index if no index of its name exists on the
	// table, on a table of any size while writers go on: PostgreSQL builds
	// it CONCURRENTLY; SQLite, whose writes are serialised, makes them
	// wait for the build. An index of that name is left as it is, even if
	// its fields differ: to change an index, declare it under a new name.
	// A bad index, or a call on a store of a transaction, is [ErrInvalid].
	EnsureIndex(ctx context.Context, idx Index) error

	// Explain returns the plan the database makes for [Store.Find] of q.
	// A bad query is [ErrInvalid].
	Explain(ctx context.Context, q Query) (Plan, error)
}

// EnsureIndex declares idx on s through its [Indexer]. A store without one
// answers every query by scanning, and EnsureIndex returns nil: indexes
// change speed, never results.
func EnsureIndex(ctx context.Context, s Store, idx Index) error {
	if x, ok := s.(Indexer); ok {
		return x.EnsureIndex(ctx, idx)
	}
	return nil
}

// Explain returns the plan of q on s through its [Indexer]; a store
// without one gives a Plan that is not Indexed.
func Explain(ctx context.Context, s Store, q Query) (Plan, error) {
	if x, ok := s.(Indexer); ok {
		return x.Explain(ctx, q)
	}
	return Plan{Detail: fmt.Sprintf("%T does not explain queries", s)}, nil
}
