package persisttest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// listSize is the number of records seedList writes: enough for three pages
// of ten, the last one short.
const listSize = 25

// seedList fills a fresh store with listSize records whose ids are not in
// insertion order, then updates the first four in every way a record can be
// updated, none of which may move it. It returns the store and the ids in
// insertion order.
func seedList(t *testing.T, open openFunc) (persist.Store, []string) {
	t.Helper()
	_, s := openStore(t, open, "items")
	ids := make([]string, listSize)
	recs := make([]persist.Record, listSize)
	for i := range ids {
		// 7 is coprime with 25, so this visits every id once, out of order.
		ids[i] = fmt.Sprintf("k%02d", (i*7+3)%listSize)
		recs[i] = persist.Record{ID: ids[i], Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
	}
	for _, rec := range recs {
		if _, err := s.Insert(t.Context(), rec); err != nil {
			t.Fatalf("Insert(%q): %v", rec.ID, err)
		}
	}
	ctx := t.Context()
	mustPut(t, s, ids[0], `{"i":0,"updated":"put"}`)
	if _, err := s.Update(ctx, persist.Record{ID: ids[1], Data: json.RawMessage(`{"updated":"update"}`)}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if _, err := s.UpdateFunc(ctx, ids[2], func(persist.Record) (json.RawMessage, error) {
		return json.RawMessage(`{"i":2,"updated":"update_func"}`), nil
	}); err != nil {
		t.Fatalf("UpdateFunc: %v", err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: ids[3], Data: json.RawMessage(`{"i":3,"updated":"put_revision"}`), Revision: 1}); err != nil {
		t.Fatalf("Put with Revision: %v", err)
	}
	return s, ids
}

func testList(t *testing.T, open openFunc) {
	t.Run("InsertionOrder", func(t *testing.T) {
		s, ids := seedList(t, open)
		if slices.IsSorted(ids) {
			t.Fatal("seed ids are sorted; the test could not tell insertion order from id order")
		}
		recs := mustList(t, s.List(t.Context(), nil))
		wantIDs(t, recs, ids...)
		for _, rec := range recs {
			wantRecord(t, rec, mustGet(t, s, rec.ID))
			wantTimes(t, rec)
		}
		if len(recs) == listSize {
			wantData(t, recs[1].Data, `{"i":1,"updated":"update"}`)
		}
		wantIDs(t, mustList(t, s.List(t.Context(), &persist.ListOptions{})), ids...)
		wantIDs(t, mustList(t, s.List(t.Context(), &persist.ListOptions{Limit: 100})), ids...)
	})
	t.Run("Pages", func(t *testing.T) {
		s, ids := seedList(t, open)
		all := mustList(t, s.List(t.Context(), nil))
		var (
			joined []persist.Record
			sizes  []int
			after  string
		)
		for range listSize { // bounded, in case a backend never ends
			page := mustList(t, s.List(t.Context(), &persist.ListOptions{Limit: 10, After: after}))
			sizes = append(sizes, len(page))
			if len(page) == 0 {
				break
			}
			joined = append(joined, page...)
			after = page[len(page)-1].ID
		}
		if want := []int{10, 10, 5, 0}; !slices.Equal(sizes, want) {
			t.Errorf("page sizes %v, want %v", sizes, want)
		}
		wantRecords(t, joined, all)
		wantIDs(t, joined, ids...)
	})
	t.Run("After", func(t *testing.T) {
		s, ids := seedList(t, open)
		recs := mustList(t, s.List(t.Context(), &persist.ListOptions{After: ids[20]}))
		wantIDs(t, recs, ids[21:]...)
		recs = mustList(t, s.List(t.Context(), &persist.ListOptions{After: ids[1], Limit: 2}))
		wantIDs(t, recs, ids[2:4]...)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, ids := seedList(t, open)
		for _, after := range []string{"missing", ids[5]} {
			if after == ids[5] {
				if _, err := s.Delete(t.Context(), after); err != nil {
					t.Fatal(err)
				}
			}
			recs, err := collect(t, s.List(t.Context(), &persist.ListOptions{After: after, Limit: 10}))
			wantErr(t, err, persist.ErrNotFound)
			if len(recs) != 0 {
				t.Errorf("After %q: yielded %q before the error, want nothing", after, idsOf(recs))
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, _ := seedList(t, open)
		recs, err := collect(t, s.List(t.Context(), &persist.ListOptions{Limit: -1}))
		wantErr(t, err, persist.ErrInvalid)
		if len(recs) != 0 {
			t.Errorf("yielded %q before the error, want nothing", idsOf(recs))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		if recs := mustList(t, s.List(t.Context(), nil)); len(recs) != 0 {
			t.Errorf("List of an empty table: %q", idsOf(recs))
		}
	})
	t.Run("Recreated", func(t *testing.T) {
		// Deleting and creating again is a new insertion, so it goes last.
		s, ids := seedList(t, open)
		if _, err := s.Delete(t.Context(), ids[5]); err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, ids[5], `{"again":true}`)
		want := append(slices.Delete(slices.Clone(ids), 5, 6), ids[5])
		wantIDs(t, mustList(t, s.List(t.Context(), nil)), want...)
	})
	t.Run("Lazy", func(t *testing.T) {
		// Nothing is read until the iterator is ranged over.
		s, ids := seedList(t, open)
		seq := s.List(t.Context(), nil)
		mustPut(t, s, "late", `{}`)
		wantIDs(t, mustList(t, seq), append(ids, "late")...)
	})
	t.Run("ByID", func(t *testing.T) { testListByID(t, open) })
	t.Run("EarlyBreak", func(t *testing.T) {
		// Breaking out must release the rows, connection or lock the
		// iterator holds; more breaks than any sensible pool size, then a
		// write, catch a leak. The timeout turns a leak into a failure
		// instead of a hung test; it measures nothing.
		s, ids := seedList(t, open)
		for i := range 20 {
			seq := s.List(t.Context(), nil)
			if i%2 == 1 {
				seq = s.Query(t.Context(), json.RawMessage(`{}`), &persist.ListOptions{Limit: 5})
			}
			n := 0
			for rec, err := range seq {
				if err != nil {
					t.Fatalf("iteration %d: %v", i, err)
				}
				if rec.ID != ids[0] {
					t.Errorf("first ID=%q, want %q", rec.ID, ids[0])
				}
				n++
				break
			}
			if n != 1 {
				t.Fatalf("iteration %d: got %d records before break, want 1", i, n)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if _, err := s.Put(ctx, persist.Record{ID: "after-break", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatalf("Put after early breaks: %v", err)
		}
		if n, err := s.Count(ctx); err != nil || n != listSize+1 {
			t.Errorf("Count after early breaks=%v, %v; want %v", n, err, listSize+1)
		}
		if _, err := s.Clear(ctx); err != nil {
			t.Errorf("Clear after early breaks: %v", err)
		}
	})
}

// byIDData are ids whose byte order differs from insertion order and from
// the order of common collations: upper before lower case, punctuation
// significant, accented letters after every ASCII letter, and code points
// above U+FFFF after those below (which UTF-16 order would not give).
var byIDData = []string{"é", "b", "a-c", "B", "ab", "😀", "ｮ", "a", "Z", "aa", "k05", "k5"}

func testListByID(t *testing.T, open openFunc) {
	_, s := openStore(t, open, "items")
	for i, id := range byIDData {
		mustPut(t, s, id, fmt.Sprintf(`{"i":%d,"odd":%v}`, i, i%2 == 1))
	}
	// Updates must not matter either.
	mustPut(t, s, "é", `{"i":0,"odd":false,"updated":true}`)
	sorted := slices.Sorted(slices.Values(byIDData))
	byID := func(limit int, after string) *persist.ListOptions {
		return &persist.ListOptions{Order: persist.ByID, Limit: limit, After: after}
	}
	t.Run("OK", func(t *testing.T) {
		recs := mustList(t, s.List(t.Context(), byID(0, "")))
		wantIDs(t, recs, sorted...)
		for _, rec := range recs {
			wantRecord(t, rec, mustGet(t, s, rec.ID))
		}
	})
	t.Run("Default", func(t *testing.T) {
		// The zero Order is insertion order.
		wantIDs(t, mustList(t, s.List(t.Context(), &persist.ListOptions{Order: persist.ByInsertion})), byIDData...)
	})
	t.Run("Pages", func(t *testing.T) {
		var joined []persist.Record
		after := ""
		for range len(sorted) + 1 {
			page := mustList(t, s.List(t.Context(), byID(5, after)))
			if len(page) == 0 {
				break
			}
			joined = append(joined, page...)
			after = page[len(page)-1].ID
		}
		wantIDs(t, joined, sorted...)
	})
	t.Run("AfterMissing", func(t *testing.T) {
		// In id order After is a position, not a record: it need not exist.
		for _, after := range []string{"A", "a-", "k050", "zz", "\U0010ffff"} {
			var want []string
			for _, id := range sorted {
				if id > after {
					want = append(want, id)
				}
			}
			wantIDs(t, mustList(t, s.List(t.Context(), byID(0, after))), want...)
		}
	})
	t.Run("Query", func(t *testing.T) {
		var want []string
		for i, id := range byIDData {
			if i%2 == 1 {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		odd := json.RawMessage(`{"odd":true}`)
		wantIDs(t, mustList(t, s.Query(t.Context(), odd, byID(0, ""))), want...)
		wantIDs(t, mustList(t, s.Query(t.Context(), odd, byID(2, want[1]))), want[2:4]...)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, o := range []persist.Order{persist.ByID + 1, -1, 1 << 20} {
			opts := &persist.ListOptions{Order: o}
			recs, err := collect(t, s.List(t.Context(), opts))
			wantErr(t, err, persist.ErrInvalid)
			wantIDs(t, recs)
			recs, err = collect(t, s.Query(t.Context(), json.RawMessage(`{}`), opts))
			wantErr(t, err, persist.ErrInvalid)
			wantIDs(t, recs)
		}
	})
}
