package persist

import (
	"context"
	"encoding/json"
	"time"
)

// DefaultSyncTimeout bounds each call of a [SyncStore] made with a zero
// timeout.
//
// Deprecated: SyncStore is deprecated; use [Store] with a context. It will
// be removed in v0.2.0.
const DefaultSyncTimeout = 30 * time.Second

// SyncStore is the earlier blocking, context-free API over one table, kept
// so callers can move to [Store] one call site at a time. Each call runs
// with a fresh context bounded by the store's timeout, so it can neither be
// cancelled by the caller nor carry request-scoped values.
//
// Deprecated: use [Store], passing the request's context. SyncStore will be
// removed in v0.2.0. See the README section "From the sync wrapper to
// Store".
type SyncStore struct {
	s       Store
	timeout time.Duration
}

// NewSyncStore wraps s. A timeout of zero or less means
// [DefaultSyncTimeout].
//
// Deprecated: use [Store] directly. NewSyncStore will be removed in v0.2.0.
func NewSyncStore(s Store, timeout time.Duration) *SyncStore {
	if timeout <= 0 {
		timeout = DefaultSyncTimeout
	}
	return &SyncStore{s: s, timeout: timeout}
}

func (s *SyncStore) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// Store returns the wrapped Store, for code being migrated.
//
// Deprecated: use [Store] directly. Removed in v0.2.0.
func (s *SyncStore) Store() Store { return s.s }

// Name returns the table name.
//
// Deprecated: use [Store.Name]. Removed in v0.2.0.
func (s *SyncStore) Name() string { return s.s.Name() }

// Get is [Store.Get] without a context.
//
// Deprecated: use [Store.Get]. Removed in v0.2.0.
func (s *SyncStore) Get(id string) (Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Get(ctx, id)
}

// Put is [Store.Put] without a context.
//
// Deprecated: use [Store.Put]. Removed in v0.2.0.
func (s *SyncStore) Put(rec Record) (Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Put(ctx, rec)
}

// Insert is [Store.Insert] without a context.
//
// Deprecated: use [Store.Insert]. Removed in v0.2.0.
func (s *SyncStore) Insert(rec Record) (Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Insert(ctx, rec)
}

// InsertMany is [Store.InsertMany] without a context.
//
// Deprecated: use [Store.InsertMany]. Removed in v0.2.0.
func (s *SyncStore) InsertMany(recs []Record) (InsertResult, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.InsertMany(ctx, recs)
}

// Update is [Store.Update] without a context.
//
// Deprecated: use [Store.Update]. Removed in v0.2.0.
func (s *SyncStore) Update(patch Record) (Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Update(ctx, patch)
}

// UpdateFunc is [Store.UpdateFunc] without a context.
//
// Deprecated: use [Store.UpdateFunc]. Removed in v0.2.0.
func (s *SyncStore) UpdateFunc(id string, fn UpdateFunc) (Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.UpdateFunc(ctx, id, fn)
}

// Delete is [Store.Delete] without a context.
//
// Deprecated: use [Store.Delete]. Removed in v0.2.0.
func (s *SyncStore) Delete(id string) (bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Delete(ctx, id)
}

// List returns the records [Store.List] would yield, as a slice. Unlike
// Store.List it holds the whole page in memory; pass a Limit.
//
// Deprecated: use [Store.List], which streams. Removed in v0.2.0.
func (s *SyncStore) List(opts *ListOptions) ([]Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return collect(s.s.List(ctx, opts))
}

// Query returns the records [Store.Query] would yield, as a slice.
//
// Deprecated: use [Store.Query], which streams. Removed in v0.2.0.
func (s *SyncStore) Query(filter json.RawMessage, opts *ListOptions) ([]Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return collect(s.s.Query(ctx, filter, opts))
}

// Find returns the records [Store.Find] would yield, as a slice.
//
// Deprecated: use [Store.Find], which streams. Removed in v0.2.0.
func (s *SyncStore) Find(q Query) ([]Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return collect(s.s.Find(ctx, q))
}

// FindPage is [Store.FindPage] without a context.
//
// Deprecated: use [Store.FindPage]. Removed in v0.2.0.
func (s *SyncStore) FindPage(q Query) (Page, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.FindPage(ctx, q)
}

// CountWhere is [Store.CountWhere] without a context.
//
// Deprecated: use [Store.CountWhere]. Removed in v0.2.0.
func (s *SyncStore) CountWhere(q Query) (int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.CountWhere(ctx, q)
}

// Count is [Store.Count] without a context.
//
// Deprecated: use [Store.Count]. Removed in v0.2.0.
func (s *SyncStore) Count() (int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Count(ctx)
}

// Clear is [Store.Clear] without a context.
//
// Deprecated: use [Store.Clear]. Removed in v0.2.0.
func (s *SyncStore) Clear() (int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.Clear(ctx)
}

// ReplaceAll is [Store.ReplaceAll] without a context; it is the earlier
// API's "save".
//
// Deprecated: use [Store.ReplaceAll]. Removed in v0.2.0.
func (s *SyncStore) ReplaceAll(recs []Record) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.s.ReplaceAll(ctx, recs)
}

func collect(seq func(yield func(Record, error) bool)) ([]Record, error) {
	var out []Record
	for rec, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
