package persist

import "context"

// BulkLoader is an optional interface of a [Store] whose backend loads an
// empty table faster by building its secondary indexes once, afterwards,
// instead of row by row. Package migrate uses it, the way io.Copy uses
// io.WriterTo; code that does not know of it loses only speed.
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
