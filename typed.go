package persist

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"
)

// Doc is a record whose data is decoded into the caller's type T.
type Doc[T any] struct {
	ID       string
	Value    T
	Revision int64
	Created  time.Time
	Updated  time.Time
}

// Typed gives a [Store]'s operations on the caller's own struct type,
// encoding with encoding/json. T must encode to a JSON object (a struct or a
// map); anything else is [ErrInvalid]. Errors are the Store's, unchanged,
// plus [ErrInvalid] when a stored document does not decode into T.
type Typed[T any] struct {
	s Store
}

// NewTyped returns a Typed view of s.
func NewTyped[T any](s Store) *Typed[T] { return &Typed[T]{s: s} }

// Store returns the underlying Store.
func (t *Typed[T]) Store() Store { return t.s }

// Get returns the document with the given id, or [ErrNotFound].
func (t *Typed[T]) Get(ctx context.Context, id string) (Doc[T], error) {
	rec, err := t.s.Get(ctx, id)
	if err != nil {
		return Doc[T]{}, err
	}
	return t.decode("get", rec)
}

// Put creates or replaces the document. An empty id is generated; a
// non-zero rev is a precondition as in [Store.Put].
func (t *Typed[T]) Put(ctx context.Context, id string, v T, rev int64) (Doc[T], error) {
	data, err := t.encode("put", id, v)
	if err != nil {
		return Doc[T]{}, err
	}
	rec, err := t.s.Put(ctx, Record{ID: id, Data: data, Revision: rev})
	if err != nil {
		return Doc[T]{}, err
	}
	return Doc[T]{ID: rec.ID, Value: v, Revision: rec.Revision, Created: rec.Created, Updated: rec.Updated}, nil
}

// Insert creates the document, or fails with [ErrConflict].
func (t *Typed[T]) Insert(ctx context.Context, id string, v T) (Doc[T], error) {
	data, err := t.encode("insert", id, v)
	if err != nil {
		return Doc[T]{}, err
	}
	rec, err := t.s.Insert(ctx, Record{ID: id, Data: data})
	if err != nil {
		return Doc[T]{}, err
	}
	return Doc[T]{ID: rec.ID, Value: v, Revision: rec.Revision, Created: rec.Created, Updated: rec.Updated}, nil
}

// Modify atomically applies fn to the stored value, as [Store.UpdateFunc].
// If fn returns an error nothing is written.
func (t *Typed[T]) Modify(ctx context.Context, id string, fn func(v *T) error) (Doc[T], error) {
	rec, err := t.s.UpdateFunc(ctx, id, func(cur Record) (json.RawMessage, error) {
		var v T
		if err := json.Unmarshal(cur.Data, &v); err != nil {
			return nil, fmt.Errorf("%w: decode %T: %v", ErrInvalid, v, err)
		}
		if err := fn(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		return Doc[T]{}, err
	}
	return t.decode("modify", rec)
}

// Delete removes the document and reports whether it existed.
func (t *Typed[T]) Delete(ctx context.Context, id string) (bool, error) {
	return t.s.Delete(ctx, id)
}

// List returns the documents in insertion order, as [Store.List].
func (t *Typed[T]) List(ctx context.Context, opts *ListOptions) iter.Seq2[Doc[T], error] {
	return t.docs("list", t.s.List(ctx, opts))
}

// Query returns the documents whose top-level fields equal filter's, as
// [Store.Query]. filter is marshalled with encoding/json, so a
// map[string]any or a struct with omitempty fields both work.
func (t *Typed[T]) Query(ctx context.Context, filter any, opts *ListOptions) iter.Seq2[Doc[T], error] {
	f, err := json.Marshal(filter)
	if err != nil {
		return func(yield func(Doc[T], error) bool) {
			yield(Doc[T]{}, &Error{Op: "query", Table: t.s.Name(), Err: fmt.Errorf("%w: filter: %v", ErrInvalid, err)})
		}
	}
	return t.docs("query", t.s.Query(ctx, f, opts))
}

// Find returns the documents q matches, as [Store.Find]. Paths name
// fields as T's JSON encoding does: by their json tags.
func (t *Typed[T]) Find(ctx context.Context, q Query) iter.Seq2[Doc[T], error] {
	return t.docs("find", t.s.Find(ctx, q))
}

// FindPage returns one page of the documents q matches and the cursor of
// the next, as [Store.FindPage].
func (t *Typed[T]) FindPage(ctx context.Context, q Query) ([]Doc[T], string, error) {
	p, err := t.s.FindPage(ctx, q)
	if err != nil {
		return nil, "", err
	}
	docs := make([]Doc[T], 0, len(p.Records))
	for _, rec := range p.Records {
		d, err := t.decode("find_page", rec)
		if err != nil {
			return nil, "", err
		}
		docs = append(docs, d)
	}
	return docs, p.Next, nil
}

// CountWhere returns the number of documents q's conditions match, as
// [Store.CountWhere].
func (t *Typed[T]) CountWhere(ctx context.Context, q Query) (int64, error) {
	return t.s.CountWhere(ctx, q)
}

func (t *Typed[T]) docs(op string, seq iter.Seq2[Record, error]) iter.Seq2[Doc[T], error] {
	return func(yield func(Doc[T], error) bool) {
		for rec, err := range seq {
			if err != nil {
				yield(Doc[T]{}, err)
				return
			}
			d, err := t.decode(op, rec)
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

func (t *Typed[T]) encode(op, id string, v T) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Op: op, Table: t.s.Name(), ID: id, Err: fmt.Errorf("%w: encode %T: %v", ErrInvalid, v, err)}
	}
	return data, nil
}

func (t *Typed[T]) decode(op string, rec Record) (Doc[T], error) {
	d := Doc[T]{ID: rec.ID, Revision: rec.Revision, Created: rec.Created, Updated: rec.Updated}
	if err := json.Unmarshal(rec.Data, &d.Value); err != nil {
		return Doc[T]{}, &Error{Op: op, Table: t.s.Name(), ID: rec.ID, Err: fmt.Errorf("%w: decode into %T: %v", ErrInvalid, d.Value, err)}
	}
	return d, nil
}
