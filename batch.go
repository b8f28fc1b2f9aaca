package persist

import (
	"context"
	"errors"
	"fmt"
)

// Batcher is an optional interface of a [Store] that reads, writes or
// deletes many records in one round trip. Code that finds it does less
// waiting on the network. Callers need not look for it: [GetMany],
// [GetManyForUpdate], [PutMany] and [DeleteMany] use it when the store has
// it and fall back to one call per record otherwise, the way [io.Copy]
// uses [io.WriterTo].
type Batcher interface {
	// GetMany returns the records with the given ids, in the order given;
	// a missing id gives a zero Record (empty ID). It reads them as Get
	// does, without locking them. A bad id is [ErrInvalid].
	GetMany(ctx context.Context, ids []string) ([]Record, error)

	// GetManyForUpdate is GetMany that, inside a transaction, also locks
	// the records until the transaction ends, as UpdateFunc does, taking
	// the locks in ascending id order whatever the order given, so that
	// concurrent callers cannot deadlock. Outside a transaction there is
	// nothing to hold the locks, and it is GetMany. It is SQL's SELECT ...
	// FOR UPDATE.
	GetManyForUpdate(ctx context.Context, ids []string) ([]Record, error)

	// PutMany writes recs as [Store.Put] does, all or nothing: if any
	// non-zero Revision is not the stored one, it fails with [ErrConflict]
	// and writes nothing. It returns the records as stored, in order.
	// Duplicate ids and negative revisions are [ErrInvalid].
	PutMany(ctx context.Context, recs []Record) ([]Record, error)

	// DeleteMany deletes the records with the given ids and reports, for
	// each, whether it existed; a repeated id existed only at its first
	// occurrence.
	DeleteMany(ctx context.Context, ids []string) ([]bool, error)
}

// GetMany returns the records of s with the given ids, in the order given,
// a zero Record (empty ID) for a missing id, by [Batcher.GetMany] if s has
// it and else by one [Store.Get] per id. A bad id is [ErrInvalid].
func GetMany(ctx context.Context, s Store, ids []string) ([]Record, error) {
	if b, ok := s.(Batcher); ok {
		return b.GetMany(ctx, ids)
	}
	return getEach(ctx, s, ids)
}

// GetManyForUpdate is [GetMany] for a read-modify-write inside [DB.Tx]: by
// [Batcher.GetManyForUpdate] if s has it, which locks the records until the
// transaction ends, and else by one [Store.Get] per id, which holds them
// only as far as the backend's transaction isolation does. The [Store]
// contract has no locking read, so code that must work on any store writes
// back on condition of the revisions read ([PutMany], or [Store.Put] with
// Revision set) and runs the transaction again on [ErrConflict]: on a
// Batcher that never happens, elsewhere it replaces the lock.
func GetManyForUpdate(ctx context.Context, s Store, ids []string) ([]Record, error) {
	if b, ok := s.(Batcher); ok {
		return b.GetManyForUpdate(ctx, ids)
	}
	return getEach(ctx, s, ids)
}

func getEach(ctx context.Context, s Store, ids []string) ([]Record, error) {
	out := make([]Record, len(ids))
	for i, id := range ids {
		rec, err := s.Get(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out[i] = rec
	}
	return out, nil
}

// PutMany writes recs to s as [Store.Put] does and returns them as stored,
// in order, by [Batcher.PutMany] if s has it. Otherwise it first checks
// every non-zero Revision against the stored record, failing with
// [ErrConflict] before anything is written, and then puts the records one
// by one, each on condition of its Revision. That is all or nothing only
// inside [DB.Tx]: a record the store refuses as invalid, or one written
// concurrently between the check and its put, fails the call with the
// records before it written, and returning the error from the transaction
// function rolls them back. Duplicate ids and negative revisions are
// [ErrInvalid] and write nothing.
func PutMany(ctx context.Context, s Store, recs []Record) ([]Record, error) {
	if b, ok := s.(Batcher); ok {
		return b.PutMany(ctx, recs)
	}
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		if r.Revision < 0 {
			return nil, &Error{Op: "put_many", Table: s.Name(), ID: r.ID, Err: fmt.Errorf("%w: revision %d is negative", ErrInvalid, r.Revision)}
		}
		if r.ID == "" {
			continue // Put generates it
		}
		if seen[r.ID] {
			return nil, &Error{Op: "put_many", Table: s.Name(), ID: r.ID, Err: fmt.Errorf("%w: id %q appears more than once", ErrInvalid, r.ID)}
		}
		seen[r.ID] = true
	}
	for _, r := range recs {
		if r.Revision == 0 {
			continue
		}
		cur, err := s.Get(ctx, r.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if cur.Revision != r.Revision {
			return nil, &Error{Op: "put_many", Table: s.Name(), ID: r.ID,
				Err: fmt.Errorf("%w: revision %d is not the stored revision %d", ErrConflict, r.Revision, cur.Revision)}
		}
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		rec, err := s.Put(ctx, r)
		if err != nil {
			return nil, err
		}
		out[i] = rec
	}
	return out, nil
}

// DeleteMany deletes the records of s with the given ids and reports, for
// each, whether it existed, by [Batcher.DeleteMany] if s has it and else
// by one [Store.Delete] per id. In the fallback a bad id fails the call with
// the records before it deleted, so call it inside [DB.Tx] and return the
// error to roll them back.
func DeleteMany(ctx context.Context, s Store, ids []string) ([]bool, error) {
	if b, ok := s.(Batcher); ok {
		return b.DeleteMany(ctx, ids)
	}
	out := make([]bool, len(ids))
	for i, id := range ids {
		existed, err := s.Delete(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = existed
	}
	return out, nil
}
