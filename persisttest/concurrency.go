package persisttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/persistkit/persist"
)

// Goroutines report with t.Errorf, which is safe from any goroutine; only
// the test goroutine calls t.Fatal.

func testConcurrency(t *testing.T, open openFunc) {
	t.Run("UpdateFuncCounter", func(t *testing.T) {
		workers, increments := 50, 100
		if testing.Short() { // under the race detector the full run takes seconds
			workers, increments = 10, 20
		}
		_, s := openStore(t, open, "counters")
		mustPut(t, s, "c", `{"n":0}`)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range workers {
			wg.Go(func() {
				for range increments {
					_, err := s.UpdateFunc(t.Context(), "c", increment)
					if err != nil {
						if failed.Add(1) <= 5 {
							t.Errorf("UpdateFunc: %v", err)
						}
						return
					}
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Fatalf("%d workers failed", n)
		}
		rec := mustGet(t, s, "c")
		n, err := numberAt(rec.Data, "n")
		if err != nil {
			t.Fatal(err)
		}
		if want := json.Number(fmt.Sprint(workers * increments)); !sameNumber(n, want) {
			t.Errorf("counter=%s, want %s: increments were lost", n, want)
		}
		if want := int64(workers*increments + 1); rec.Revision != want {
			t.Errorf("Revision=%v, want %v", rec.Revision, want)
		}
	})

	t.Run("DistinctPuts", func(t *testing.T) {
		const workers, each = 8, 50
		_, s := openStore(t, open, "items")
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprintf("w%d-%02d", w, i)
					data := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
					if _, err := s.Put(t.Context(), persist.Record{ID: id, Data: json.RawMessage(data)}); err != nil {
						t.Errorf("Put(%q): %v", id, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		wantCount(t, s, workers*each)
		for w := range workers {
			for i := range each {
				rec := mustGet(t, s, fmt.Sprintf("w%d-%02d", w, i))
				wantData(t, rec.Data, fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				if rec.Revision != 1 {
					t.Errorf("%s: Revision=%v, want 1", rec.ID, rec.Revision)
				}
			}
		}
	})

	t.Run("InsertRace", func(t *testing.T) {
		const workers, rounds = 8, 5
		_, s := openStore(t, open, "items")
		for r := range rounds {
			id := fmt.Sprintf("contested-%d", r)
			var wg sync.WaitGroup
			var won, lost atomic.Int64
			var winner atomic.Value
			for w := range workers {
				wg.Go(func() {
					data := fmt.Sprintf(`{"w":%d}`, w)
					_, err := s.Insert(t.Context(), persist.Record{ID: id, Data: json.RawMessage(data)})
					switch {
					case err == nil:
						won.Add(1)
						winner.Store(data)
					case errors.Is(err, persist.ErrConflict):
						lost.Add(1)
					default:
						t.Errorf("Insert(%q): %v, want nil or %v", id, err, persist.ErrConflict)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 || lost.Load() != workers-1 {
				t.Fatalf("%s: %d Inserts won and %d lost, want 1 and %d", id, won.Load(), lost.Load(), workers-1)
			}
			rec := mustGet(t, s, id)
			wantData(t, rec.Data, winner.Load().(string))
			if rec.Revision != 1 {
				t.Errorf("Revision=%v, want 1", rec.Revision)
			}
		}
	})

	t.Run("PutRevisionRace", func(t *testing.T) {
		const workers = 8
		_, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"w":-1}`)
		var wg sync.WaitGroup
		var won, lost atomic.Int64
		var winner atomic.Value
		for w := range workers {
			wg.Go(func() {
				data := fmt.Sprintf(`{"w":%d}`, w)
				_, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(data), Revision: 1})
				switch {
				case err == nil:
					won.Add(1)
					winner.Store(data)
				case errors.Is(err, persist.ErrConflict):
					lost.Add(1)
				default:
					t.Errorf("Put: %v, want nil or %v", err, persist.ErrConflict)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || lost.Load() != workers-1 {
			t.Fatalf("%d Puts won and %d lost, want 1 and %d", won.Load(), lost.Load(), workers-1)
		}
		rec := mustGet(t, s, "a")
		wantData(t, rec.Data, winner.Load().(string))
		if rec.Revision != 2 {
			t.Errorf("Revision=%v, want 2", rec.Revision)
		}
	})

	t.Run("ListDuringWrites", func(t *testing.T) {
		// Records are only appended, so every List, whenever it runs, must
		// see a prefix of the final insertion order: no gaps, no repeats.
		const writes, readers = 200, 3
		_, s := openStore(t, open, "items")
		var want []string
		for i := range writes {
			want = append(want, fmt.Sprintf("r%03d", (i*37)%writes))
		}
		var done atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() {
			defer done.Store(true)
			for _, id := range want {
				if _, err := s.Insert(t.Context(), persist.Record{ID: id, Data: json.RawMessage(`{}`)}); err != nil {
					t.Errorf("Insert(%q): %v", id, err)
					return
				}
			}
		})
		for range readers {
			wg.Go(func() {
				for lists := 0; !done.Load() || lists == 0; lists++ {
					var got []string
					for rec, err := range s.List(t.Context(), nil) {
						if err != nil {
							t.Errorf("List during writes: %v", err)
							return
						}
						got = append(got, rec.ID)
					}
					if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
						t.Errorf("List during writes saw %d ids that are not a prefix of the insertion order", len(got))
						return
					}
				}
			})
		}
		wg.Wait()
		wantIDs(t, snapshot(t, s), want...)
	})
}

// increment is an UpdateFunc that adds one to the integer field "n".
func increment(cur persist.Record) (json.RawMessage, error) {
	n, err := numberAt(cur.Data, "n")
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(fmt.Sprintf(`{"n":%d}`, v+1)), nil
}
