package persisttest

import (
	"encoding/json"
	"testing"

	"github.com/persistkit/persist"
)

func testRevision(t *testing.T, open openFunc) {
	t.Run("PutMatching", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		for want := int64(2); want <= 3; want++ {
			rec, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":2}`), Revision: want - 1})
			if err != nil {
				t.Fatalf("Put with Revision %d: %v", want-1, err)
			}
			if rec.Revision != want {
				t.Errorf("Revision=%v, want %v", rec.Revision, want)
			}
		}
	})
	t.Run("PutStale", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		cur := mustPut(t, s, "a", `{"v":2}`)
		for _, rev := range []int64{1, 3} {
			_, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":"stale"}`), Revision: rev})
			wantOpErr(t, err, persist.ErrConflict, "put", "items", "a")
		}
		wantRecord(t, mustGet(t, s, "a"), cur)
	})
	t.Run("PutMissing", func(t *testing.T) {
		// A missing record has revision 0, so any precondition fails.
		_, s := openStore(t, open, "items")
		mustPut(t, s, "other", `{}`)
		_, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":1}`), Revision: 1})
		wantOpErr(t, err, persist.ErrConflict, "put", "items", "a")
		wantMissing(t, s, "a")
		wantCount(t, s, 1)
	})
	t.Run("UpdateMatching", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1,"w":1}`)
		cur := mustPut(t, s, "a", `{"v":2,"w":1}`)
		rec, err := s.Update(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":3}`), Revision: cur.Revision})
		if err != nil {
			t.Fatalf("Update with Revision %d: %v", cur.Revision, err)
		}
		if rec.Revision != 3 {
			t.Errorf("Revision=%v, want 3", rec.Revision)
		}
		wantData(t, mustGet(t, s, "a").Data, `{"v":3,"w":1}`)
	})
	t.Run("UpdateStale", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		cur := mustPut(t, s, "a", `{"v":2}`)
		_, err := s.Update(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":"stale"}`), Revision: 1})
		wantOpErr(t, err, persist.ErrConflict, "update", "items", "a")
		wantRecord(t, mustGet(t, s, "a"), cur)
	})
	t.Run("EveryWrite", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		steps := []struct {
			name  string
			write func() (persist.Record, error)
		}{
			{"Insert", func() (persist.Record, error) {
				return s.Insert(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"n":0}`)})
			}},
			{"Put", func() (persist.Record, error) {
				return s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"n":1}`)})
			}},
			{"Update", func() (persist.Record, error) {
				return s.Update(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"n":2}`)})
			}},
			{"UpdateFunc", func() (persist.Record, error) {
				return s.UpdateFunc(t.Context(), "a", func(persist.Record) (json.RawMessage, error) {
					return json.RawMessage(`{"n":3}`), nil
				})
			}},
			{"Put", func() (persist.Record, error) {
				return s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"n":4}`), Revision: 4})
			}},
		}
		for i, st := range steps {
			rec, err := st.write()
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if want := int64(i + 1); rec.Revision != want {
				t.Errorf("%s: Revision=%v, want %v", st.name, rec.Revision, want)
			}
			if got := mustGet(t, s, "a"); got.Revision != rec.Revision {
				t.Errorf("%s: Get: Revision=%v, want %v", st.name, got.Revision, rec.Revision)
			}
		}
	})
	t.Run("Recreated", func(t *testing.T) {
		// A deleted record is gone: recreating it starts a new history.
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{}`)
		mustPut(t, s, "a", `{}`)
		if _, err := s.Delete(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		if rec := mustPut(t, s, "a", `{}`); rec.Revision != 1 {
			t.Errorf("Revision=%v, want 1", rec.Revision)
		}
	})
}
