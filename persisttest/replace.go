package persisttest

import (
	"encoding/json"
	"testing"

	"github.com/persistkit/persist"
)

// seedReplace fills a fresh store with three records, the second updated
// so that its revision is not 1.
func seedReplace(t *testing.T, open openFunc) (persist.Store, []persist.Record) {
	t.Helper()
	_, s := openStore(t, open, "items")
	mustPut(t, s, "a", `{"v":"a"}`)
	mustPut(t, s, "b", `{"v":"b"}`)
	mustPut(t, s, "c", `{"v":"c"}`)
	mustPut(t, s, "b", `{"v":"b2"}`)
	return s, snapshot(t, s)
}

func testReplaceAll(t *testing.T, open openFunc) {
	t.Run("OK", func(t *testing.T) {
		s, _ := seedReplace(t, open)
		err := s.ReplaceAll(t.Context(), []persist.Record{
			{ID: "x", Data: json.RawMessage(`{"v":"x"}`)},
			{ID: "a", Data: json.RawMessage(`{"v":"a2"}`)},
			{Data: json.RawMessage(`{"v":"generated"}`)},
		})
		if err != nil {
			t.Fatalf("ReplaceAll: %v", err)
		}
		recs := snapshot(t, s)
		if len(recs) != 3 {
			t.Fatalf("after ReplaceAll: ids %q, want 3 records", idsOf(recs))
		}
		wantIDs(t, recs[:2], "x", "a")
		wantGeneratedID(t, recs[2].ID)
		for i, want := range []string{`{"v":"x"}`, `{"v":"a2"}`, `{"v":"generated"}`} {
			wantData(t, recs[i].Data, want)
			wantTimes(t, recs[i])
			if recs[i].Revision < 1 {
				t.Errorf("%s: Revision=%v, want at least 1", recs[i].ID, recs[i].Revision)
			}
		}
		wantMissing(t, s, "b")
		wantMissing(t, s, "c")
		wantCount(t, s, 3)
	})
	t.Run("Empty", func(t *testing.T) {
		s, _ := seedReplace(t, open)
		if err := s.ReplaceAll(t.Context(), nil); err != nil {
			t.Fatalf("ReplaceAll(nil): %v", err)
		}
		wantCount(t, s, 0)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			recs []persist.Record
		}{
			{"BadData", []persist.Record{
				{ID: "x", Data: json.RawMessage(`{"v":"x"}`)},
				{ID: "y", Data: json.RawMessage(`{"v":`)},
			}},
			{"NotObject", []persist.Record{
				{ID: "x", Data: json.RawMessage(`{"v":"x"}`)},
				{ID: "y", Data: json.RawMessage(`[1]`)},
			}},
			{"NUL", []persist.Record{
				{ID: "x", Data: json.RawMessage(`{"v":"x"}`)},
				{ID: "y", Data: json.RawMessage(`{"v":"\u0000"}`)},
			}},
			{"BadID", []persist.Record{
				{ID: "x", Data: json.RawMessage(`{"v":"x"}`)},
				{ID: "y\x00", Data: json.RawMessage(`{"v":"y"}`)},
			}},
			{"DuplicateIDs", []persist.Record{
				{ID: "x", Data: json.RawMessage(`{"v":"x1"}`)},
				{ID: "y", Data: json.RawMessage(`{"v":"y"}`)},
				{ID: "x", Data: json.RawMessage(`{"v":"x2"}`)},
			}},
			{"DuplicateExistingIDs", []persist.Record{
				{ID: "a", Data: json.RawMessage(`{"v":"a1"}`)},
				{ID: "a", Data: json.RawMessage(`{"v":"a2"}`)},
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s, before := seedReplace(t, open)
				err := s.ReplaceAll(t.Context(), tt.recs)
				wantErr(t, err, persist.ErrInvalid)
				wantUnchanged(t, s, before)
			})
		}
	})
}
