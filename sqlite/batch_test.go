package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// batcher returns the named store of db as a persist.Batcher.
func batcher(tb testing.TB, db persist.DB, name string) (persist.Store, persist.Batcher) {
	tb.Helper()
	s, err := db.Store(name)
	if err != nil {
		tb.Fatalf("Store(%q): %v", name, err)
	}
	b, ok := s.(persist.Batcher)
	if !ok {
		tb.Fatalf("store %T does not implement persist.Batcher", s)
	}
	return s, b
}

func seed(tb testing.TB, s persist.Store, ids ...string) map[string]persist.Record {
	tb.Helper()
	out := map[string]persist.Record{}
	for _, id := range ids {
		rec, err := s.Put(context.Background(), persist.Record{ID: id, Data: []byte(`{"id":"` + id + `"}`)})
		if err != nil {
			tb.Fatalf("Put(%q): %v", id, err)
		}
		out[id] = rec
	}
	return out
}

func TestBatcher(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()

	t.Run("GetMany keeps the given order and gives zero records for missing ids", func(t *testing.T) {
		s, b := batcher(t, db, "get_many")
		want := seed(t, s, "a", "b", "c")
		got, err := b.GetMany(ctx, []string{"c", "missing", "a", "b", "a"}, false)
		if err != nil {
			t.Fatalf("GetMany: %v", err)
		}
		for i, id := range []string{"c", "", "a", "b", "a"} {
			if got[i].ID != id {
				t.Fatalf("GetMany[%d].ID = %q, want %q", i, got[i].ID, id)
			}
			if id == "" {
				continue
			}
			w := want[id]
			if string(got[i].Data) != `{"id":"`+id+`"}` || got[i].Revision != w.Revision ||
				!got[i].Created.Equal(w.Created) || !got[i].Updated.Equal(w.Updated) || got[i].Created.Location() != time.UTC {
				t.Errorf("GetMany[%d] = %+v, want %+v", i, got[i], w)
			}
		}
		if got, err := b.GetMany(ctx, nil, true); err != nil || len(got) != 0 {
			t.Errorf("GetMany(nil) = %v, %v; want empty", got, err)
		}
	})

	t.Run("PutMany writes all records and returns them in order", func(t *testing.T) {
		s, b := batcher(t, db, "put_many")
		old := seed(t, s, "x")
		got, err := b.PutMany(ctx, []persist.Record{
			{ID: "y", Data: []byte(`{"n":1}`)},
			{ID: "x", Data: []byte(`{"n":2}`), Revision: old["x"].Revision},
			{Data: []byte(`{"n":3}`)},
		})
		if err != nil {
			t.Fatalf("PutMany: %v", err)
		}
		if got[0].ID != "y" || got[0].Revision != 1 || got[1].ID != "x" || got[1].Revision != old["x"].Revision+1 ||
			got[2].ID == "" || got[2].Revision != 1 || !got[1].Created.Equal(old["x"].Created) {
			t.Fatalf("PutMany = %+v", got)
		}
		for _, r := range got {
			stored, err := s.Get(ctx, r.ID)
			if err != nil || stored.Revision != r.Revision || !stored.Updated.Equal(r.Updated) {
				t.Errorf("Get(%q) = %+v, %v; want %+v", r.ID, stored, err, r)
			}
		}
		// New records keep the input order.
		if l := IDs(t, s.List(ctx, nil)); strings.Join(l, ",") != "x,y,"+got[2].ID {
			t.Errorf("List = %v", l)
		}
	})

	t.Run("PutMany with a stale revision writes nothing", func(t *testing.T) {
		s, b := batcher(t, db, "put_conflict")
		old := seed(t, s, "a", "b")
		cases := [][]persist.Record{
			{{ID: "a", Data: []byte(`{"v":1}`)}, {ID: "b", Data: []byte(`{"v":1}`), Revision: old["b"].Revision + 1}},
			{{ID: "new", Data: []byte(`{"v":1}`)}, {ID: "missing", Data: []byte(`{"v":1}`), Revision: 1}},
		}
		for _, recs := range cases {
			if _, err := b.PutMany(ctx, recs); !errors.Is(err, persist.ErrConflict) {
				t.Fatalf("PutMany = %v, want ErrConflict", err)
			}
		}
		for _, id := range []string{"a", "b"} {
			if rec, _ := s.Get(ctx, id); rec.Revision != old[id].Revision {
				t.Errorf("%s revision = %d, want %d", id, rec.Revision, old[id].Revision)
			}
		}
		if n, _ := s.Count(ctx); n != 2 {
			t.Errorf("Count = %d, want 2", n)
		}
		// Inside a transaction the conflict writes nothing and the
		// transaction goes on.
		err := db.Tx(ctx, func(tx persist.Tx) error {
			ts, err := tx.Store("put_conflict")
			if err != nil {
				return err
			}
			if _, err := ts.(persist.Batcher).PutMany(ctx, cases[0]); !errors.Is(err, persist.ErrConflict) {
				t.Errorf("PutMany in Tx = %v, want ErrConflict", err)
			}
			_, err = ts.Put(ctx, persist.Record{ID: "c", Data: []byte(`{}`)})
			return err
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		if rec, _ := s.Get(ctx, "a"); rec.Revision != old["a"].Revision {
			t.Errorf("a revision = %d after Tx, want %d", rec.Revision, old["a"].Revision)
		}
	})

	t.Run("many records are written all or nothing", func(t *testing.T) {
		s, b := batcher(t, db, "many")
		const n = 100 // more than one statement lists parameter by parameter
		recs := make([]persist.Record, n)
		names := make([]string, n)
		for i := range recs {
			names[i] = fmt.Sprintf("r%03d", n-i)
			recs[i] = persist.Record{ID: names[i], Data: []byte(`{"v":0}`)}
		}
		for _, size := range []int{3, n} {
			got, err := b.PutMany(ctx, recs[:size])
			if err != nil {
				t.Fatalf("PutMany(%d): %v", size, err)
			}
			stale := slices.Clone(got)
			stale[size-1].Revision++ // all with revisions, one stale
			if _, err := b.PutMany(ctx, stale); !errors.Is(err, persist.ErrConflict) {
				t.Fatalf("PutMany(%d) with a stale revision = %v, want ErrConflict", size, err)
			}
			mixed := slices.Clone(got)
			mixed[0].Revision = 0
			mixed[size-1].Revision++ // some with revisions, one stale
			if _, err := b.PutMany(ctx, mixed); !errors.Is(err, persist.ErrConflict) {
				t.Fatalf("PutMany(%d) mixed with a stale revision = %v, want ErrConflict", size, err)
			}
			cur, err := b.GetMany(ctx, names[:size], false)
			if err != nil {
				t.Fatalf("GetMany(%d): %v", size, err)
			}
			for i, r := range cur {
				if r.ID != names[i] || r.Revision != got[i].Revision {
					t.Fatalf("GetMany(%d)[%d] = %s rev %d, want %s rev %d", size, i, r.ID, r.Revision, names[i], got[i].Revision)
				}
			}
			next, err := b.PutMany(ctx, cur)
			if err != nil {
				t.Fatalf("PutMany(%d) with current revisions: %v", size, err)
			}
			for i := range next {
				if next[i].Revision != cur[i].Revision+1 {
					t.Fatalf("PutMany(%d)[%d] revision = %d, want %d", size, i, next[i].Revision, cur[i].Revision+1)
				}
			}
		}
		if l := IDs(t, s.List(ctx, nil)); !slices.Equal(l, names) {
			t.Errorf("List = %v, want the first PutMany's order", l)
		}
		existed, err := b.DeleteMany(ctx, append(slices.Clone(names), "missing"))
		if err != nil {
			t.Fatalf("DeleteMany: %v", err)
		}
		if slices.Contains(existed[:n], false) || existed[n] {
			t.Errorf("DeleteMany = %v", existed)
		}
	})

	t.Run("DeleteMany reports which records existed", func(t *testing.T) {
		s, b := batcher(t, db, "delete_many")
		seed(t, s, "a", "b")
		got, err := b.DeleteMany(ctx, []string{"b", "missing", "a", "b"})
		if err != nil {
			t.Fatalf("DeleteMany: %v", err)
		}
		if want := []bool{true, false, true, false}; !equalBools(got, want) {
			t.Errorf("DeleteMany = %v, want %v", got, want)
		}
		if n, _ := s.Count(ctx); n != 0 {
			t.Errorf("Count = %d, want 0", n)
		}
	})

	t.Run("invalid input is ErrInvalid and writes nothing", func(t *testing.T) {
		s, b := batcher(t, db, "invalid")
		seed(t, s, "a")
		if _, err := b.GetMany(ctx, []string{"a", ""}, false); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("GetMany with an empty id = %v", err)
		}
		if _, err := b.DeleteMany(ctx, []string{"a", strings.Repeat("x", 1000)}); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("DeleteMany with a long id = %v", err)
		}
		for name, recs := range map[string][]persist.Record{
			"bad json":     {{ID: "b", Data: []byte(`{}`)}, {ID: "c", Data: []byte(`[1]`)}},
			"duplicate id": {{ID: "b", Data: []byte(`{}`)}, {ID: "b", Data: []byte(`{}`)}},
			"negative rev": {{ID: "b", Data: []byte(`{}`), Revision: -1}},
		} {
			if _, err := b.PutMany(ctx, recs); !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("PutMany %s = %v", name, err)
			}
		}
		if n, _ := s.Count(ctx); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}
	})

	t.Run("closed DB is ErrClosed", func(t *testing.T) {
		db2 := MustOpen(t)
		_, b := batcher(t, db2, "closed")
		db2.Close()
		if _, err := b.GetMany(ctx, []string{"a"}, false); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("GetMany = %v", err)
		}
		if _, err := b.PutMany(ctx, []persist.Record{{ID: "a", Data: []byte(`{}`)}}); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("PutMany = %v", err)
		}
		if _, err := b.DeleteMany(ctx, []string{"a"}); !errors.Is(err, persist.ErrClosed) {
			t.Errorf("DeleteMany = %v", err)
		}
	})
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPutManyLosesNoConcurrentWrite runs read-modify-write loops on the
// same records concurrently: every PutMany that succeeds must count.
func TestPutManyLosesNoConcurrentWrite(t *testing.T) {
	db := MustOpen(t)
	ctx := t.Context()
	s, b := batcher(t, db, "counters")
	seed(t, s, "x", "y")
	const workers, rounds = 4, 25
	wins := make(chan int, workers)
	for range workers {
		go func() {
			n := 0
			for range rounds {
				cur, err := b.GetMany(ctx, []string{"y", "x"}, false)
				if err != nil {
					t.Error(err)
					break
				}
				next := make([]persist.Record, len(cur))
				for i, r := range cur {
					next[i] = persist.Record{ID: r.ID, Data: []byte(`{}`), Revision: r.Revision}
				}
				_, err = b.PutMany(ctx, next)
				switch {
				case err == nil:
					n++
				case !errors.Is(err, persist.ErrConflict):
					t.Error(err)
				}
			}
			wins <- n
		}()
	}
	total := 0
	for range workers {
		total += <-wins
	}
	got, err := b.GetMany(ctx, []string{"x", "y"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Revision != int64(total)+1 {
			t.Errorf("%s revision = %d, want %d (1 + successful PutMany calls)", r.ID, r.Revision, total+1)
		}
	}
}
