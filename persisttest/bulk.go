package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/persistkit/persist"
)

// bulkLoader returns s as a persist.BulkLoader, skipping the test when the
// store does not implement that optional interface.
func bulkLoader(t *testing.T, s persist.Store) persist.BulkLoader {
	t.Helper()
	b, ok := s.(persist.BulkLoader)
	if !ok {
		t.Skip("store does not implement persist.BulkLoader")
	}
	return b
}

// bulkRecords returns n records whose field "n" is their index mod 10.
func bulkRecords(prefix string, n int) []persist.Record {
	recs := make([]persist.Record, n)
	for i := range recs {
		recs[i] = persist.Record{ID: fmt.Sprintf("%s%04d", prefix, i), Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"i":%d}`, i%10, i))}
	}
	return recs
}

// load inserts recs into s between BeginBulkLoad and finish, by s's own
// BulkLoader or, if plain, by the fallback of [persist.BeginBulkLoad], and
// checks Query while the load is open.
func load(t *testing.T, s persist.Store, recs []persist.Record, plain bool) {
	t.Helper()
	ctx := t.Context()
	via := s
	if plain {
		via = plainStore{s}
	}
	finish, err := persist.BeginBulkLoad(ctx, via)
	if err != nil {
		t.Fatalf("BeginBulkLoad: %v", err)
	}
	res, err := s.InsertMany(ctx, recs)
	if err != nil || res.Inserted != len(recs) {
		t.Fatalf("InsertMany during a bulk load: %+v, %v; want %d inserted", res, err, len(recs))
	}
	during := mustList(t, s.Query(ctx, json.RawMessage(`{"n":3}`), nil))
	if err := finish(ctx); err != nil {
		t.Fatalf("finish: %v", err)
	}
	after := mustList(t, s.Query(ctx, json.RawMessage(`{"n":3}`), nil))
	if fmt.Sprint(idsOf(during)) != fmt.Sprint(idsOf(after)) {
		t.Errorf("Query during the load found %v, after it %v", idsOf(during), idsOf(after))
	}
}

func testBulkLoader(t *testing.T, open openFunc) {
	t.Run("AgreesWithInsertMany", func(t *testing.T) {
		// A bulk load leaves what the same InsertMany leaves without one:
		// the records, their order, and Query's answers.
		for _, tc := range []struct {
			name string
			seed []string
		}{{"Empty", nil}, {"NotEmpty", []string{"first"}}} {
			t.Run(tc.name, func(t *testing.T) {
				db := open(t)
				fast, slow := mustStore(t, db, "fast"), mustStore(t, db, "slow")
				bulkLoader(t, fast)
				seed(t, fast, tc.seed...)
				seed(t, slow, tc.seed...)
				recs := bulkRecords("r", 300)
				load(t, fast, recs, false)
				load(t, slow, recs, true)
				wantCount(t, fast, int64(len(recs)+len(tc.seed)))
				if f, s := fmt.Sprint(batchResult(snapshot(t, fast))), fmt.Sprint(batchResult(snapshot(t, slow))); f != s {
					t.Errorf("after a bulk load the table holds %v, after InsertMany alone %v", f, s)
				}
				for _, filter := range []string{`{"n":3}`, `{"i":299}`, `{"n":"3"}`, `{}`} {
					f := idsOf(mustList(t, fast.Query(t.Context(), json.RawMessage(filter), nil)))
					s := idsOf(mustList(t, slow.Query(t.Context(), json.RawMessage(filter), nil)))
					if fmt.Sprint(f) != fmt.Sprint(s) {
						t.Errorf("Query(%s) after a bulk load = %v, after InsertMany alone %v", filter, f, s)
					}
				}
			})
		}
	})

	t.Run("WritesDuringLoad", func(t *testing.T) {
		// Puts, updates and deletes stay correct while the load is open.
		_, s := openStore(t, open, "items")
		bl := bulkLoader(t, s)
		ctx := t.Context()
		finish, err := bl.BeginBulkLoad(ctx)
		if err != nil {
			t.Fatalf("BeginBulkLoad: %v", err)
		}
		mustPut(t, s, "a", `{"n":1}`)
		if _, err := s.Insert(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); !errors.Is(err, persist.ErrConflict) {
			t.Errorf("Insert of an existing id during a bulk load: err=%v, want %v", err, persist.ErrConflict)
		}
		if _, err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := finish(ctx); err != nil {
			t.Fatalf("finish: %v", err)
		}
		wantMissing(t, s, "a")
	})

	t.Run("Canceled", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		_, err := bulkLoader(t, s).BeginBulkLoad(canceled())
		wantErr(t, err, context.Canceled)
	})

	t.Run("Closed", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		bl := bulkLoader(t, s)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := bl.BeginBulkLoad(t.Context())
		wantErr(t, err, persist.ErrClosed)
	})
}
