package persist

import "context"

// Batcher is an optional interface of a [Store] that reads, writes or
// deletes many records in one round trip. Code that finds it does less
// waiting on the network, and code that does not falls back to one call per
// record with the same meaning; package budget uses it on its hot path.
type Batcher interface {
	// GetMany returns the records with the given ids, in the order given;
	// a missing id gives a zero Record (empty ID). Inside a transaction,
	// lock also locks the records until the transaction ends, as
	// UpdateFunc does, taking the locks in ascending id order whatever the
	// order given, so that concurrent callers cannot deadlock.
	GetMany(ctx context.Context, ids []string, lock bool) ([]Record, error)

	// PutMany writes recs as [Store.Put] does, all or nothing: if any
	// non-zero Revision is not the stored one, it fails with [ErrConflict]
	// and writes nothing. It returns the records as stored, in order.
	// Duplicate ids are [ErrInvalid].
	PutMany(ctx context.Context, recs []Record) ([]Record, error)

	// DeleteMany deletes the records with the given ids and reports, for
	// each, whether it existed.
	DeleteMany(ctx context.Context, ids []string) ([]bool, error)
}
