package persist

import "context"

// BulkLoader is an optional interface of a [Store] whose backend loads an
// empty table faster by building its secondary indexes once, afterwards,
// instead of row by row. Callers need not look for it: [BeginBulkLoad]
// uses it when the store has it, the way [io.Copy] uses [io.WriterTo];
// code that does not know of it loses only speed.
type BulkLoader interface {
	// BeginBulkLoad prepares the table for a bulk load if it is empty, and
	// returns finish, which restores what was deferred (for example,
	// builds an index) and must be called once the load is done, on
	// success or not. If the table is not empty, nothing is deferred and
	// finish does nothing. Reads and writes stay correct in between, only
	// slower for queries that would use a deferred index; if finish is
	// never called (the process died), the backend restores the deferred
	// indexes when the table is next opened.
	BeginBulkLoad(ctx context.Context) (finish func(ctx context.Context) error, err error)
}

// BeginBulkLoad prepares s for loading many records, by
// [BulkLoader.BeginBulkLoad] if s has it; otherwise there is nothing to
// defer, and finish does nothing. Either way, call finish once the load is
// done, on success or not.
func BeginBulkLoad(ctx context.Context, s Store) (finish func(ctx context.Context) error, err error) {
	if bl, ok := s.(BulkLoader); ok {
		return bl.BeginBulkLoad(ctx)
	}
	return func(context.Context) error { return nil }, nil
}
