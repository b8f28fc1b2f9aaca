package persisttest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

func testCRUD(t *testing.T, open openFunc) {
	t.Run("Name", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		if got := s.Name(); got != "items" {
			t.Errorf("Name()=%q, want %q", got, "items")
		}
	})

	t.Run("Get", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			put := mustPut(t, s, "a", `{"name":"alpha","n":1}`)
			got := mustGet(t, s, "a")
			wantRecord(t, got, put)
			wantData(t, got.Data, `{"name":"alpha","n":1}`)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			mustPut(t, s, "a", `{}`)
			_, err := s.Get(t.Context(), "missing")
			wantOpErr(t, err, persist.ErrNotFound, "get", "items", "missing")
		})
	})

	t.Run("Put", func(t *testing.T) {
		t.Run("Create", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			rec := mustPut(t, s, "a", `{"name":"alpha"}`)
			if rec.ID != "a" {
				t.Errorf("ID=%q, want %q", rec.ID, "a")
			}
			if rec.Revision != 1 {
				t.Errorf("Revision=%v, want 1", rec.Revision)
			}
			if !rec.Created.Equal(rec.Updated) {
				t.Errorf("Created=%v, Updated=%v; want equal on create", rec.Created, rec.Updated)
			}
			wantTimes(t, rec)
			wantData(t, rec.Data, `{"name":"alpha"}`)
			wantRecord(t, mustGet(t, s, "a"), rec)
		})
		t.Run("Replace", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			first := mustPut(t, s, "a", `{"name":"alpha","old":true}`)
			rec := mustPut(t, s, "a", `{"name":"beta"}`)
			if rec.Revision != 2 {
				t.Errorf("Revision=%v, want 2", rec.Revision)
			}
			if !rec.Created.Equal(first.Created) {
				t.Errorf("Created=%v, want %v kept from the first Put", rec.Created, first.Created)
			}
			if rec.Updated.Before(first.Updated) {
				t.Errorf("Updated=%v, before the first Put's %v", rec.Updated, first.Updated)
			}
			wantTimes(t, rec)
			// Put replaces the document; it does not merge.
			wantData(t, rec.Data, `{"name":"beta"}`)
			wantRecord(t, mustGet(t, s, "a"), rec)
			wantCount(t, s, 1)
		})
		t.Run("GeneratedID", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			var ids []string
			for i := range 3 {
				rec := mustPut(t, s, "", fmt.Sprintf(`{"i":%d}`, i))
				wantGeneratedID(t, rec.ID)
				if rec.Revision != 1 {
					t.Errorf("Revision=%v, want 1", rec.Revision)
				}
				wantData(t, mustGet(t, s, rec.ID).Data, fmt.Sprintf(`{"i":%d}`, i))
				ids = append(ids, rec.ID)
			}
			for i := 1; i < len(ids); i++ {
				if ids[i] <= ids[i-1] {
					t.Errorf("generated ids %q: want each greater than the one before (creation order)", ids)
					break
				}
			}
			wantCount(t, s, 3)
		})
	})

	t.Run("Insert", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			rec, err := s.Insert(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":1}`)})
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			if rec.ID != "a" || rec.Revision != 1 {
				t.Errorf("ID=%q Revision=%v, want %q 1", rec.ID, rec.Revision, "a")
			}
			wantTimes(t, rec)
			wantData(t, rec.Data, `{"v":1}`)
			wantRecord(t, mustGet(t, s, "a"), rec)
		})
		t.Run("GeneratedID", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			a, err := s.Insert(t.Context(), persist.Record{Data: json.RawMessage(`{"v":1}`)})
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			b, err := s.Insert(t.Context(), persist.Record{Data: json.RawMessage(`{"v":2}`)})
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			wantGeneratedID(t, a.ID)
			wantGeneratedID(t, b.ID)
			if a.ID >= b.ID {
				t.Errorf("generated ids %q then %q: want increasing", a.ID, b.ID)
			}
			wantRecord(t, mustGet(t, s, b.ID), b)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			orig := mustPut(t, s, "a", `{"v":"original"}`)
			_, err := s.Insert(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"v":"intruder"}`)})
			wantOpErr(t, err, persist.ErrConflict, "insert", "items", "a")
			wantRecord(t, mustGet(t, s, "a"), orig)
			wantCount(t, s, 1)
		})
	})

	t.Run("InsertMany", func(t *testing.T) { testInsertMany(t, open) })

	t.Run("Update", func(t *testing.T) {
		t.Run("Merge", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			orig := mustPut(t, s, "a", `{"a":1,"b":2,"c":{"x":1}}`)
			rec, err := s.Update(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{"b":null,"c":{"y":2},"d":4}`)})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			// Top-level keys only: "c" is replaced, not merged recursively.
			want := `{"a":1,"b":null,"c":{"y":2},"d":4}`
			wantData(t, rec.Data, want)
			if rec.Revision != 2 {
				t.Errorf("Revision=%v, want 2", rec.Revision)
			}
			if !rec.Created.Equal(orig.Created) {
				t.Errorf("Created=%v, want %v kept", rec.Created, orig.Created)
			}
			if rec.Updated.Before(orig.Updated) {
				t.Errorf("Updated=%v, before the Put's %v", rec.Updated, orig.Updated)
			}
			wantTimes(t, rec)
			wantRecord(t, mustGet(t, s, "a"), rec)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			mustPut(t, s, "a", `{}`)
			_, err := s.Update(t.Context(), persist.Record{ID: "missing", Data: json.RawMessage(`{"b":1}`)})
			wantOpErr(t, err, persist.ErrNotFound, "update", "items", "missing")
			wantMissing(t, s, "missing")
			wantCount(t, s, 1)
		})
	})

	t.Run("UpdateFunc", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			orig := mustPut(t, s, "a", `{"n":41,"keep":"x"}`)
			var seen persist.Record
			rec, err := s.UpdateFunc(t.Context(), "a", func(cur persist.Record) (json.RawMessage, error) {
				seen = cur
				return json.RawMessage(`{"n":42}`), nil
			})
			if err != nil {
				t.Fatalf("UpdateFunc: %v", err)
			}
			wantRecord(t, seen, orig)
			// fn's result is the whole new document, not a patch.
			wantData(t, rec.Data, `{"n":42}`)
			if rec.Revision != 2 {
				t.Errorf("Revision=%v, want 2", rec.Revision)
			}
			if !rec.Created.Equal(orig.Created) {
				t.Errorf("Created=%v, want %v kept", rec.Created, orig.Created)
			}
			wantTimes(t, rec)
			wantRecord(t, mustGet(t, s, "a"), rec)
		})
		t.Run("FuncError", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			orig := mustPut(t, s, "a", `{"n":1}`)
			_, err := s.UpdateFunc(t.Context(), "a", func(cur persist.Record) (json.RawMessage, error) {
				return json.RawMessage(`{"n":2}`), fmt.Errorf("refusing: %w", errBoom)
			})
			wantOpErr(t, err, errBoom, "update_func", "items", "a")
			wantRecord(t, mustGet(t, s, "a"), orig)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			called := false
			_, err := s.UpdateFunc(t.Context(), "missing", func(cur persist.Record) (json.RawMessage, error) {
				called = true
				return json.RawMessage(`{}`), nil
			})
			wantOpErr(t, err, persist.ErrNotFound, "update_func", "items", "missing")
			if called {
				t.Error("fn was called for a missing record")
			}
			wantMissing(t, s, "missing")
		})
	})

	t.Run("Delete", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			mustPut(t, s, "a", `{}`)
			mustPut(t, s, "b", `{}`)
			existed, err := s.Delete(t.Context(), "a")
			if err != nil || !existed {
				t.Fatalf("Delete(a)=%v, %v; want true, nil", existed, err)
			}
			wantMissing(t, s, "a")
			mustGet(t, s, "b")
			existed, err = s.Delete(t.Context(), "a")
			if err != nil || existed {
				t.Errorf("second Delete(a)=%v, %v; want false, nil", existed, err)
			}
			wantCount(t, s, 1)
		})
		t.Run("Missing", func(t *testing.T) {
			_, s := openStore(t, open, "items")
			existed, err := s.Delete(t.Context(), "never")
			if err != nil || existed {
				t.Errorf("Delete(never)=%v, %v; want false, nil", existed, err)
			}
		})
	})

	t.Run("Count", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		wantCount(t, s, 0)
		for _, id := range []string{"a", "b", "c"} {
			mustPut(t, s, id, `{}`)
		}
		mustPut(t, s, "a", `{"again":true}`)
		wantCount(t, s, 3)
		if _, err := s.Delete(t.Context(), "b"); err != nil {
			t.Fatal(err)
		}
		wantCount(t, s, 2)
	})

	t.Run("Clear", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		other := mustStore(t, db, "other")
		mustPut(t, other, "keep", `{}`)
		for _, id := range []string{"a", "b", "c"} {
			mustPut(t, s, id, `{}`)
		}
		n, err := s.Clear(t.Context())
		if err != nil || n != 3 {
			t.Fatalf("Clear()=%v, %v; want 3, nil", n, err)
		}
		wantCount(t, s, 0)
		if recs := snapshot(t, s); len(recs) != 0 {
			t.Errorf("List after Clear: %q, want nothing", idsOf(recs))
		}
		wantMissing(t, s, "a")
		wantCount(t, other, 1) // only this table
		n, err = s.Clear(t.Context())
		if err != nil || n != 0 {
			t.Errorf("Clear() on an empty table=%v, %v; want 0, nil", n, err)
		}
		rec := mustPut(t, s, "a", `{"after":"clear"}`)
		if rec.Revision != 1 {
			t.Errorf("Revision after Clear and Put=%v, want 1", rec.Revision)
		}
	})

	t.Run("Tables", func(t *testing.T) {
		db := open(t)
		if names := mustTables(t, db); len(names) != 0 {
			t.Errorf("Tables() of a new DB=%q, want none", names)
		}
		for _, name := range []string{"zeta", "alpha", "mid_1", "_under"} {
			mustPut(t, mustStore(t, db, name), "x", `{}`)
		}
		want := []string{"_under", "alpha", "mid_1", "zeta"}
		if names := mustTables(t, db); !slices.Equal(names, want) {
			t.Errorf("Tables()=%q, want %q", names, want)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		db := open(t)
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("NoAliasing", func(t *testing.T) {
		// The store keeps its own copy of the data and hands out copies.
		_, s := openStore(t, open, "items")
		in := []byte(`{"v":"original"}`)
		put, err := s.Put(t.Context(), persist.Record{ID: "a", Data: in})
		if err != nil {
			t.Fatal(err)
		}
		copy(in, `{"v":"scribble"}`)
		clear(put.Data)
		got := mustGet(t, s, "a")
		wantData(t, got.Data, `{"v":"original"}`)
		clear(got.Data)
		wantData(t, mustGet(t, s, "a").Data, `{"v":"original"}`)
	})

	t.Run("StoreTwice", func(t *testing.T) {
		db, s1 := openStore(t, open, "items")
		s2 := mustStore(t, db, "items")
		rec := mustPut(t, s1, "a", `{"v":1}`)
		wantRecord(t, mustGet(t, s2, "a"), rec)
	})
}

func testInsertMany(t *testing.T, open openFunc) {
	t.Run("OK", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		existing := mustPut(t, s, "a", `{"v":"old"}`)
		res, err := s.InsertMany(t.Context(), []persist.Record{
			{ID: "a", Data: json.RawMessage(`{"v":"new"}`)},
			{ID: "c", Data: json.RawMessage(`{"v":"c"}`)},
			{ID: "b", Data: json.RawMessage(`{"v":"b"}`)},
		})
		if err != nil {
			t.Fatalf("InsertMany: %v", err)
		}
		if res != (persist.InsertResult{Inserted: 2, Skipped: 1}) {
			t.Errorf("InsertMany()=%+v, want {Inserted:2 Skipped:1}", res)
		}
		wantRecord(t, mustGet(t, s, "a"), existing)
		for _, id := range []string{"c", "b"} {
			rec := mustGet(t, s, id)
			if rec.Revision != 1 {
				t.Errorf("%s: Revision=%v, want 1", id, rec.Revision)
			}
			wantTimes(t, rec)
			wantData(t, rec.Data, fmt.Sprintf(`{"v":%q}`, id))
		}
		wantIDs(t, snapshot(t, s), "a", "c", "b")
	})
	t.Run("KeepsMetadata", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		created := time.Date(2020, 1, 2, 3, 4, 5, 678901000, time.UTC)
		updated := created.Add(36 * time.Hour)
		in := persist.Record{ID: "copy", Data: json.RawMessage(`{"v":1}`), Revision: 7, Created: created, Updated: updated}
		res, err := s.InsertMany(t.Context(), []persist.Record{in})
		if err != nil || res != (persist.InsertResult{Inserted: 1}) {
			t.Fatalf("InsertMany()=%+v, %v; want {Inserted:1}, nil", res, err)
		}
		got := mustGet(t, s, "copy")
		wantRecord(t, got, in)
		if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
			t.Errorf("Created, Updated in %v, %v; want UTC", got.Created.Location(), got.Updated.Location())
		}
		// The next write continues from the copied revision.
		rec := mustPut(t, s, "copy", `{"v":2}`)
		if rec.Revision != 8 {
			t.Errorf("Revision after Put=%v, want 8", rec.Revision)
		}
		if !rec.Created.Equal(created) {
			t.Errorf("Created after Put=%v, want %v", rec.Created, created)
		}
	})
	t.Run("DuplicateInInput", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		res, err := s.InsertMany(t.Context(), []persist.Record{
			{ID: "d", Data: json.RawMessage(`{"v":"first"}`)},
			{ID: "e", Data: json.RawMessage(`{"v":"e"}`)},
			{ID: "d", Data: json.RawMessage(`{"v":"second"}`)},
		})
		if err != nil {
			t.Fatalf("InsertMany: %v", err)
		}
		if res != (persist.InsertResult{Inserted: 2, Skipped: 1}) {
			t.Errorf("InsertMany()=%+v, want {Inserted:2 Skipped:1}", res)
		}
		rec := mustGet(t, s, "d")
		wantData(t, rec.Data, `{"v":"first"}`)
		if rec.Revision != 1 {
			t.Errorf("Revision=%v, want 1", rec.Revision)
		}
		wantIDs(t, snapshot(t, s), "d", "e")
	})
	t.Run("Empty", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		res, err := s.InsertMany(t.Context(), nil)
		if err != nil || res != (persist.InsertResult{}) {
			t.Errorf("InsertMany(nil)=%+v, %v; want {}, nil", res, err)
		}
		wantCount(t, s, 0)
	})
	t.Run("Batches", func(t *testing.T) {
		// More records than any sensible batch size, in an order that is
		// not the id order, half of them already present.
		_, s := openStore(t, open, "items")
		const n = 2500
		id := func(i int) string { return fmt.Sprintf("r%05d", (i*7919)%n) }
		var pre, recs []persist.Record
		var want []string
		for i := range n {
			if i%2 == 1 {
				pre = append(pre, persist.Record{ID: id(i), Data: json.RawMessage(`{"pre":true}`)})
			} else {
				want = append(want, id(i))
			}
			recs = append(recs, persist.Record{ID: id(i), Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		}
		if res, err := s.InsertMany(t.Context(), pre); err != nil || res.Inserted != n/2 {
			t.Fatalf("InsertMany(odd half)=%+v, %v; want %d inserted", res, err, n/2)
		}
		res, err := s.InsertMany(t.Context(), recs)
		if err != nil {
			t.Fatalf("InsertMany: %v", err)
		}
		if res != (persist.InsertResult{Inserted: n / 2, Skipped: n / 2}) {
			t.Errorf("InsertMany()=%+v, want {Inserted:%d Skipped:%d}", res, n/2, n/2)
		}
		wantCount(t, s, n)
		got := snapshot(t, s)
		if len(got) != n {
			t.Fatalf("List: %d records, want %d", len(got), n)
		}
		// The pre-existing records come first, then the inserted ones in
		// input order; the pre-existing ones keep their data.
		if ids := idsOf(got[n/2:]); !slices.Equal(ids, want) {
			t.Errorf("inserted records listed out of input order")
		}
		for _, rec := range got[:n/2] {
			wantData(t, rec.Data, `{"pre":true}`)
		}
	})
}
