package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/persistkit/persist"
)

// batcher returns s as a persist.Batcher, skipping the test when the store
// does not implement that optional interface.
func batcher(t *testing.T, s persist.Store) persist.Batcher {
	t.Helper()
	b, ok := s.(persist.Batcher)
	if !ok {
		t.Skip("store does not implement persist.Batcher")
	}
	return b
}

// seed puts one record {"id":id} for each id and returns them by id.
func seed(tb testing.TB, s persist.Store, ids ...string) map[string]persist.Record {
	tb.Helper()
	out := make(map[string]persist.Record, len(ids))
	for _, id := range ids {
		out[id] = mustPut(tb, s, id, `{"id":"`+id+`"}`)
	}
	return out
}

func testBatcher(t *testing.T, open openFunc) {
	t.Run("GetMany", func(t *testing.T) {
		// The order given, a zero Record for a missing id, duplicates
		// answered each time.
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		want := seed(t, s, "a", "b", "c")
		for name, getMany := range map[string]func(context.Context, []string) ([]persist.Record, error){
			"GetMany": b.GetMany, "GetManyForUpdate": b.GetManyForUpdate,
		} {
			got, err := getMany(t.Context(), []string{"c", "missing", "a", "b", "a"})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantIDs(t, got, "c", "", "a", "b", "a")
			if len(got) == 5 {
				for i, id := range []string{"c", "", "a", "b", "a"} {
					if id == "" {
						if got[i].Data != nil || got[i].Revision != 0 || !got[i].Created.IsZero() || !got[i].Updated.IsZero() {
							t.Errorf("GetMany[%d]=%+v for a missing id, want a zero Record", i, got[i])
						}
						continue
					}
					wantRecord(t, got[i], want[id])
					wantTimes(t, got[i])
				}
			}
			if got, err := getMany(t.Context(), nil); err != nil || len(got) != 0 {
				t.Errorf("%s(nil)=%v, %v; want no records and no error", name, got, err)
			}
		}
	})

	t.Run("PutMany", func(t *testing.T) {
		// Creates, replaces with a matching revision and generates ids, and
		// returns the records as stored, in order.
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		old := seed(t, s, "x")
		got, err := b.PutMany(t.Context(), []persist.Record{
			{ID: "y", Data: json.RawMessage(`{"n":1}`)},
			{ID: "x", Data: json.RawMessage(`{"n":2}`), Revision: old["x"].Revision},
			{Data: json.RawMessage(`{"n":3}`)},
		})
		if err != nil {
			t.Fatalf("PutMany: %v", err)
		}
		if len(got) != 3 {
			t.Fatalf("PutMany returned %d records %q, want 3", len(got), idsOf(got))
		}
		if got[0].ID != "y" || got[0].Revision != 1 {
			t.Errorf("PutMany[0]: ID=%q Revision=%v, want %q 1", got[0].ID, got[0].Revision, "y")
		}
		if got[1].ID != "x" || got[1].Revision != old["x"].Revision+1 {
			t.Errorf("PutMany[1]: ID=%q Revision=%v, want %q %v", got[1].ID, got[1].Revision, "x", old["x"].Revision+1)
		}
		if !got[1].Created.Equal(old["x"].Created) {
			t.Errorf("PutMany[1]: Created=%v, want %v kept from the first Put", got[1].Created, old["x"].Created)
		}
		wantGeneratedID(t, got[2].ID)
		if got[2].Revision != 1 {
			t.Errorf("PutMany[2]: Revision=%v, want 1", got[2].Revision)
		}
		for i, data := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
			wantTimes(t, got[i])
			wantData(t, got[i].Data, data)
			wantRecord(t, mustGet(t, s, got[i].ID), got[i])
		}
		// New records follow the existing one in input order.
		wantIDs(t, snapshot(t, s), "x", "y", got[2].ID)
	})

	t.Run("PutManyStale", func(t *testing.T) {
		// A stale revision, or one on a missing record, is ErrConflict and
		// writes nothing, also inside a transaction, which goes on.
		db, s := openStore(t, open, "items")
		b := batcher(t, s)
		old := seed(t, s, "a", "b")
		before := snapshot(t, s)
		cases := map[string][]persist.Record{
			"stale": {
				{ID: "a", Data: json.RawMessage(`{"v":1}`)},
				{ID: "b", Data: json.RawMessage(`{"v":1}`), Revision: old["b"].Revision + 1},
			},
			"missing": {
				{ID: "new", Data: json.RawMessage(`{"v":1}`)},
				{ID: "missing", Data: json.RawMessage(`{"v":1}`), Revision: 1},
			},
		}
		for name, recs := range cases {
			_, err := b.PutMany(t.Context(), recs)
			if !errors.Is(err, persist.ErrConflict) {
				t.Errorf("PutMany %s: err=%v, want one matching %v", name, err, persist.ErrConflict)
			}
		}
		wantUnchanged(t, s, before)

		var notBatcher bool
		err := db.Tx(t.Context(), func(tx persist.Tx) error {
			ts, err := tx.Store("items")
			if err != nil {
				return err
			}
			tb, ok := ts.(persist.Batcher)
			if !ok {
				notBatcher = true
				return nil
			}
			if _, err := tb.PutMany(t.Context(), cases["stale"]); !errors.Is(err, persist.ErrConflict) {
				return fmt.Errorf("PutMany in Tx: err=%v, want one matching %v", err, persist.ErrConflict)
			}
			_, err = ts.Put(t.Context(), persist.Record{ID: "c", Data: json.RawMessage(`{}`)})
			return err
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		if notBatcher {
			t.Skip("transaction store does not implement persist.Batcher")
		}
		wantRecord(t, mustGet(t, s, "a"), old["a"])
		wantRecord(t, mustGet(t, s, "b"), old["b"])
		wantCount(t, s, 3)
	})

	t.Run("PutManyAllOrNothing", func(t *testing.T) {
		// Few and many records (more than a statement takes parameter by
		// parameter), all or some with revisions, one stale: nothing is
		// written; with the current revisions, everything is.
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		const n = 100
		recs := make([]persist.Record, n)
		names := make([]string, n)
		for i := range recs {
			names[i] = fmt.Sprintf("r%03d", n-i)
			recs[i] = persist.Record{ID: names[i], Data: json.RawMessage(`{"v":0}`)}
		}
		for _, size := range []int{3, n} {
			got, err := b.PutMany(t.Context(), recs[:size])
			if err != nil {
				t.Fatalf("PutMany(%d): %v", size, err)
			}
			if len(got) != size {
				t.Fatalf("PutMany(%d) returned %d records", size, len(got))
			}
			stale := slices.Clone(got)
			stale[size-1].Revision++
			if _, err := b.PutMany(t.Context(), stale); !errors.Is(err, persist.ErrConflict) {
				t.Fatalf("PutMany(%d) with a stale revision: err=%v, want one matching %v", size, err, persist.ErrConflict)
			}
			mixed := slices.Clone(got)
			mixed[0].Revision = 0
			mixed[size-1].Revision++
			if _, err := b.PutMany(t.Context(), mixed); !errors.Is(err, persist.ErrConflict) {
				t.Fatalf("PutMany(%d) mixed with a stale revision: err=%v, want one matching %v", size, err, persist.ErrConflict)
			}
			cur, err := b.GetMany(t.Context(), names[:size])
			if err != nil {
				t.Fatalf("GetMany(%d): %v", size, err)
			}
			wantRecords(t, cur, got)
			if t.Failed() {
				t.FailNow()
			}
			next, err := b.PutMany(t.Context(), cur)
			if err != nil {
				t.Fatalf("PutMany(%d) with current revisions: %v", size, err)
			}
			for i := range next {
				if next[i].Revision != cur[i].Revision+1 {
					t.Fatalf("PutMany(%d)[%d]: Revision=%v, want %v", size, i, next[i].Revision, cur[i].Revision+1)
				}
			}
		}
		wantIDs(t, snapshot(t, s), names...)
	})

	t.Run("DeleteMany", func(t *testing.T) {
		// One flag per id, in order; a duplicate is gone the second time.
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		seed(t, s, "a", "b", "keep")
		got, err := b.DeleteMany(t.Context(), []string{"b", "missing", "a", "b"})
		if err != nil {
			t.Fatalf("DeleteMany: %v", err)
		}
		if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
			t.Errorf("DeleteMany=%v, want %v", got, want)
		}
		wantIDs(t, snapshot(t, s), "keep")
		if got, err := b.DeleteMany(t.Context(), nil); err != nil || len(got) != 0 {
			t.Errorf("DeleteMany(nil)=%v, %v; want no flags and no error", got, err)
		}

		// Many ids at once.
		const n = 100
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("r%03d", i)
		}
		seed(t, s, names...)
		existed, err := b.DeleteMany(t.Context(), append(slices.Clone(names), "missing"))
		if err != nil {
			t.Fatalf("DeleteMany(%d): %v", n+1, err)
		}
		if len(existed) != n+1 || slices.Contains(existed[:n], false) || existed[n] {
			t.Errorf("DeleteMany(%d)=%v, want %d true then false", n+1, existed, n)
		}
		wantIDs(t, snapshot(t, s), "keep")
	})

	t.Run("Invalid", func(t *testing.T) {
		// Bad ids and data, duplicate ids and negative revisions are
		// ErrInvalid and change nothing.
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		seed(t, s, "a")
		before := snapshot(t, s)
		if _, err := b.GetMany(t.Context(), []string{"a", "b\x00"}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("GetMany with a NUL in an id: err=%v, want one matching %v", err, persist.ErrInvalid)
		}
		if _, err := b.GetManyForUpdate(t.Context(), []string{"a", "b\x00"}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("GetManyForUpdate with a NUL in an id: err=%v, want one matching %v", err, persist.ErrInvalid)
		}
		if _, err := b.DeleteMany(t.Context(), []string{"a", strings.Repeat("x", 2049)}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("DeleteMany with a long id: err=%v, want one matching %v", err, persist.ErrInvalid)
		}
		for name, recs := range map[string][]persist.Record{
			"not an object": {{ID: "b", Data: json.RawMessage(`{}`)}, {ID: "c", Data: json.RawMessage(`[1]`)}},
			"duplicate id":  {{ID: "b", Data: json.RawMessage(`{}`)}, {ID: "b", Data: json.RawMessage(`{}`)}},
			"negative rev":  {{ID: "b", Data: json.RawMessage(`{}`), Revision: -1}},
		} {
			if _, err := b.PutMany(t.Context(), recs); !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("PutMany %s: err=%v, want one matching %v", name, err, persist.ErrInvalid)
			}
		}
		wantUnchanged(t, s, before)
	})

	t.Run("Closed", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		b := batcher(t, s)
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err := b.GetMany(t.Context(), []string{"a"})
		wantErr(t, err, persist.ErrClosed)
		_, err = b.GetManyForUpdate(t.Context(), []string{"a"})
		wantErr(t, err, persist.ErrClosed)
		_, err = b.PutMany(t.Context(), []persist.Record{{ID: "a", Data: json.RawMessage(`{}`)}})
		wantErr(t, err, persist.ErrClosed)
		_, err = b.DeleteMany(t.Context(), []string{"a"})
		wantErr(t, err, persist.ErrClosed)
	})

	t.Run("Canceled", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		b := batcher(t, s)
		seed(t, s, "a")
		before := snapshot(t, s)
		ctx := canceled()
		_, err := b.GetMany(ctx, []string{"a"})
		wantErr(t, err, context.Canceled)
		_, err = b.GetManyForUpdate(ctx, []string{"a"})
		wantErr(t, err, context.Canceled)
		_, err = b.PutMany(ctx, []persist.Record{{ID: "a", Data: json.RawMessage(`{"v":1}`)}, {ID: "b", Data: json.RawMessage(`{}`)}})
		wantErr(t, err, context.Canceled)
		_, err = b.DeleteMany(ctx, []string{"a"})
		wantErr(t, err, context.Canceled)
		wantUnchanged(t, s, before)
	})

	t.Run("ConcurrentPutMany", func(t *testing.T) {
		// Read-modify-write loops on the same records: every PutMany that
		// succeeds counts, so none is lost.
		_, s := openStore(t, open, "counters")
		b := batcher(t, s)
		seed(t, s, "x", "y")
		const workers, rounds = 4, 25
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int64
		)
		for range workers {
			wg.Go(func() {
				for range rounds {
					cur, err := b.GetMany(t.Context(), []string{"y", "x"})
					if err != nil {
						t.Errorf("GetMany: %v", err)
						return
					}
					next := make([]persist.Record, len(cur))
					for i, r := range cur {
						next[i] = persist.Record{ID: r.ID, Data: json.RawMessage(`{}`), Revision: r.Revision}
					}
					_, err = b.PutMany(t.Context(), next)
					switch {
					case err == nil:
						mu.Lock()
						wins++
						mu.Unlock()
					case !errors.Is(err, persist.ErrConflict):
						t.Errorf("PutMany: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, id := range []string{"x", "y"} {
			if rec := mustGet(t, s, id); rec.Revision != wins+1 {
				t.Errorf("%s: Revision=%v, want %v (1 + successful PutMany calls)", id, rec.Revision, wins+1)
			}
		}
	})
}

// plainStore has only the methods of [persist.Store]: through it the root's
// batch functions take their fallbacks.
type plainStore struct{ persist.Store }

// batchCase is one call of a root batch function, made on the store's own
// [persist.Batcher] and on the fallback; want is the sentinel both must
// return (nil for success).
type batchCase struct {
	name string
	call func(ctx context.Context, s persist.Store) (any, error)
	want error
}

func batchCases() []batchCase {
	data := func(s string) json.RawMessage { return json.RawMessage(s) }
	return []batchCase{
		{"GetMany", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.GetMany(ctx, s, []string{"c", "missing", "a", "a"})
		}, nil},
		{"GetManyForUpdate", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.GetManyForUpdate(ctx, s, []string{"b", "a", "missing"})
		}, nil},
		{"GetManyBadID", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.GetMany(ctx, s, []string{"a", "b\x00"})
		}, persist.ErrInvalid},
		{"GetManyForUpdateBadID", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.GetManyForUpdate(ctx, s, []string{"a", "x\x00"})
		}, persist.ErrInvalid},
		{"PutMany", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{
				{ID: "a", Data: data(`{"v":2}`), Revision: 1}, {ID: "new", Data: data(`{"v":3}`)}, {ID: "b", Data: data(`{"v":4}`)}})
		}, nil},
		{"PutManyStale", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{
				{ID: "new", Data: data(`{}`)}, {ID: "a", Data: data(`{"v":2}`), Revision: 7}})
		}, persist.ErrConflict},
		{"PutManyRevisionOfMissing", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{{ID: "missing", Data: data(`{}`), Revision: 1}})
		}, persist.ErrConflict},
		{"PutManyDuplicateID", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{{ID: "new", Data: data(`{}`)}, {ID: "new", Data: data(`{}`)}})
		}, persist.ErrInvalid},
		{"PutManyNegativeRevision", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{{ID: "a", Data: data(`{}`), Revision: -1}})
		}, persist.ErrInvalid},
		{"PutManyNotObject", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.PutMany(ctx, s, []persist.Record{{ID: "new", Data: data(`{}`)}, {ID: "b", Data: data(`[1]`)}})
		}, persist.ErrInvalid},
		{"DeleteMany", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.DeleteMany(ctx, s, []string{"b", "missing", "b", "c"})
		}, nil},
		{"DeleteManyBadID", func(ctx context.Context, s persist.Store) (any, error) {
			return persist.DeleteMany(ctx, s, []string{"a", strings.Repeat("x", 2049)})
		}, persist.ErrInvalid},
	}
}

// batchResult is what a batch call returned, without the times, which
// differ between two tables.
func batchResult(v any) any {
	recs, ok := v.([]persist.Record)
	if !ok {
		return v
	}
	type rec struct {
		ID, Data string
		Revision int64
	}
	out := make([]rec, len(recs))
	for i, r := range recs {
		out[i] = rec{r.ID, string(r.Data), r.Revision}
	}
	return out
}

// testBatchFallback checks that the root's batch functions give the same
// results and sentinel errors, and leave the same records, whether they
// use the store's [persist.Batcher] or fall back to one call per record,
// as fstest checks ReadFile against Open and Read. Each call runs inside a
// transaction that is rolled back on error, as the fallback asks.
func testBatchFallback(t *testing.T, open openFunc) {
	for _, tc := range batchCases() {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			fast, slow := mustStore(t, db, "fast"), mustStore(t, db, "slow")
			batcher(t, fast)
			seed(t, fast, "a", "b", "c")
			seed(t, slow, "a", "b", "c")
			run := func(name string, plain bool) (any, error) {
				var got any
				err := db.Tx(t.Context(), func(tx persist.Tx) error {
					s, err := tx.Store(name)
					if err != nil {
						return err
					}
					if plain {
						s = plainStore{s}
					}
					got, err = tc.call(t.Context(), s)
					return err
				})
				return batchResult(got), err
			}
			fastGot, fastErr := run("fast", false)
			slowGot, slowErr := run("slow", true)
			for _, side := range []struct {
				name string
				err  error
			}{{"Batcher", fastErr}, {"fallback", slowErr}} {
				if tc.want == nil && side.err != nil || tc.want != nil && !errors.Is(side.err, tc.want) {
					t.Errorf("%s: err=%v, want %v", side.name, side.err, tc.want)
				}
			}
			if tc.want == nil && fmt.Sprint(fastGot) != fmt.Sprint(slowGot) {
				t.Errorf("Batcher returned %v, fallback %v", fastGot, slowGot)
			}
			if f, s := fmt.Sprint(batchResult(snapshot(t, fast))), fmt.Sprint(batchResult(snapshot(t, slow))); f != s {
				t.Errorf("after the call the Batcher's table holds %v, the fallback's %v", f, s)
			}
		})
	}
}
