package persist

import "context"

// WriteMarker is an optional interface of a [DB] that tells, without
// reading any table, whether a write may have been committed to the
// database since a point in time. Package migrate uses it to tell that a
// source did not change while it was copied, where it would otherwise
// read the whole table again. Callers need not look for it: [MarkWrites]
// uses it when the DB has it.
type WriteMarker interface {
	// MarkWrites marks the present. The function changed it returns
	// reports false only when no write has been committed to the database
	// since the mark, by any connection or process, through persist or
	// not; and true when one may have been: to any table, since the mark
	// covers the whole database, and possibly after some event that is
	// not a write, so that true asks the caller to look closer. release
	// frees what the mark holds; call it once, when done, and not changed
	// after it.
	MarkWrites(ctx context.Context) (changed func(context.Context) (bool, error), release func(), err error)
}

// MarkWrites marks the present in db, by [WriteMarker.MarkWrites] if db
// has it; otherwise changed always reports true and release does nothing.
func MarkWrites(ctx context.Context, db DB) (changed func(context.Context) (bool, error), release func(), err error) {
	if wm, ok := db.(WriteMarker); ok {
		return wm.MarkWrites(ctx)
	}
	return func(context.Context) (bool, error) { return true, nil }, func() {}, nil
}
