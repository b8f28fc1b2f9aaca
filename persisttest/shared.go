package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// Legacy is a second writer on the database under test that knows only the
// earlier portal's layout: the columns id and data, and nothing persist
// added. A backend's test implements it with the earlier portal's own
// statements, issued through the raw driver (see [TestSharedTables]).
type Legacy interface {
	// CreateTable creates table in the earlier layout, (id, data).
	CreateTable(ctx context.Context, table string) error

	// Add creates or replaces a record: INSERT OR REPLACE on SQLite,
	// INSERT ... ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data on
	// PostgreSQL.
	Add(ctx context.Context, table, id, data string) error

	// Insert is a plain INSERT (id, data); it fails if the id exists.
	Insert(ctx context.Context, table, id, data string) error

	// InsertOrIgnore inserts unless the id exists: INSERT OR IGNORE on
	// SQLite, ON CONFLICT (id) DO NOTHING on PostgreSQL.
	InsertOrIgnore(ctx context.Context, table, id, data string) error

	// Update rewrites data in a transaction that locks the row first:
	// BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL,
	// then UPDATE ... SET data = ? WHERE id = ?.
	Update(ctx context.Context, table, id, data string) error

	// Delete is DELETE ... WHERE id = ?.
	Delete(ctx context.Context, table, id string) error

	// Clear is DELETE FROM the table.
	Clear(ctx context.Context, table string) error

	// Save replaces the contents in one transaction: DELETE FROM the
	// table, then a plain INSERT (id, data) per record, in order.
	Save(ctx context.Context, table string, recs [][2]string) error

	// Rows reads every (id, data) pair, in physical order (rowid on
	// SQLite, ctid on PostgreSQL), as the earlier portal's readers do.
	Rows(ctx context.Context, table string) ([][2]string, error)
}

// TestSharedTables checks that a table persist created or upgraded can be
// shared with the earlier portal's writers, which name only id and data,
// without losing anything. open returns a new, empty DB whose
// [persist.Options.IDField] is idField, and a [Legacy] writer on the same
// database.
//
// For a table in the earlier layout that persist then upgrades, and for a
// table persist creates, with the earlier writer's statements interleaved
// with persist's own calls:
//   - Nothing is lost: a record the earlier writer adds lists after every
//     existing record, and no statement of theirs removes a record it did
//     not name (the sequences a, b, upgrade, p1, p2, a again; save(); clear
//     followed by three adds).
//   - A record they insert has revision 1 and created and updated times of
//     the moment it was written; one they replace or update keeps its place
//     in insertion order and its created time, and its revision grows by
//     one, so a persist write carrying the revision read before fails with
//     [persist.ErrConflict] and changes nothing.
//   - INSERT OR IGNORE of an existing id changes nothing, and leaves nothing
//     behind that a later write of that id would pick up.
//   - Every record they can write is reached by its id: read, updated and
//     deleted, and the earlier readers see persist's records.
//
// With IDField "id", every write of persist's (Put, Insert, InsertMany,
// ReplaceAll, Update, UpdateFunc, and PutMany and Apply where the backend
// has them) stores the record's id in the document's "id" field, which the
// earlier readers see; a document whose "id" holds anything else is
// [persist.ErrInvalid] and writes nothing.
func TestSharedTables(t *testing.T, open func(t *testing.T, idField string) (persist.DB, Legacy)) {
	t.Run("IDField", func(t *testing.T) { testIDField(t, open) })
	for _, upgraded := range []bool{true, false} {
		name := "Created"
		if upgraded {
			name = "Upgraded"
		}
		t.Run(name, func(t *testing.T) {
			setup := func(t *testing.T, seed ...string) (persist.Store, Legacy) {
				t.Helper()
				db, lg := open(t, "")
				ctx := t.Context()
				if upgraded {
					if err := lg.CreateTable(ctx, "runs"); err != nil {
						t.Fatalf("legacy CreateTable: %v", err)
					}
					for _, id := range seed {
						mustLegacy(t, lg.Add(ctx, "runs", id, legacyDoc(id, 0)))
					}
				}
				s := mustStore(t, db, "runs")
				// The first call creates or upgrades the table, whatever
				// the backend does in Store.
				wantCount(t, s, int64(len(seed))*boolInt(upgraded))
				if !upgraded {
					for _, id := range seed {
						mustLegacy(t, lg.Add(ctx, "runs", id, legacyDoc(id, 0)))
					}
				}
				return s, lg
			}
			testShared(t, setup)
		})
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// legacyDoc is a document as the earlier portal writes it: the id inside.
func legacyDoc(id string, n int) string {
	b, _ := json.Marshal(map[string]any{"id": id, "n": n})
	return string(b)
}

func mustLegacy(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("legacy writer: %v", err)
	}
}

func testShared(t *testing.T, setup func(t *testing.T, seed ...string) (persist.Store, Legacy)) {
	t.Run("AddsLoseNothing", func(t *testing.T) {
		// The sequence that lost records: a and b exist, persist opens
		// the table, then the earlier writer adds p1, p2 and a again.
		s, lg := setup(t, "a", "b")
		ctx := t.Context()
		mustLegacy(t, lg.Add(ctx, "runs", "p1", legacyDoc("p1", 1)))
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "b", "p1")
		mustLegacy(t, lg.Add(ctx, "runs", "p2", legacyDoc("p2", 2)))
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "b", "p1", "p2")
		mustLegacy(t, lg.Add(ctx, "runs", "a", legacyDoc("a", 3)))
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "b", "p1", "p2")
		wantCount(t, s, 4)
		wantLegacyIDs(t, lg, "a", "b", "p1", "p2")
		if rec := mustGet(t, s, "a"); rec.Revision != 2 {
			t.Errorf("a replaced by the earlier writer: Revision=%d, want 2", rec.Revision)
		}
		wantData(t, mustGet(t, s, "a").Data, legacyDoc("a", 3))
	})

	t.Run("InsertedListLast", func(t *testing.T) {
		s, lg := setup(t, "a")
		ctx := t.Context()
		mustPut(t, s, "mine", `{"n":1}`)
		before := time.Now().Truncate(time.Millisecond)
		mustLegacy(t, lg.Insert(ctx, "runs", "theirs", legacyDoc("theirs", 1)))
		after := time.Now()
		mustPut(t, s, "mine2", `{"n":2}`)
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "mine", "theirs", "mine2")
		rec := mustGet(t, s, "theirs")
		if rec.Revision != 1 {
			t.Errorf("Revision=%d, want 1", rec.Revision)
		}
		for what, at := range map[string]time.Time{"Created": rec.Created, "Updated": rec.Updated} {
			// SQLite's clock in SQL has millisecond resolution.
			if at.Before(before) || at.After(after) {
				t.Errorf("%s=%v, want between %v and %v", what, at, before, after)
			}
		}
		wantTimes(t, rec)
		wantLegacyIDs(t, lg, "a", "mine", "theirs", "mine2")
	})

	t.Run("PlainInsertOfExistingIDFails", func(t *testing.T) {
		s, lg := setup(t, "a")
		ctx := t.Context()
		if err := lg.Insert(ctx, "runs", "a", legacyDoc("a", 9)); err == nil {
			t.Errorf("legacy INSERT of an existing id succeeded, want a unique violation")
		}
		wantData(t, mustGet(t, s, "a").Data, legacyDoc("a", 0))
		if rec := mustGet(t, s, "a"); rec.Revision != 1 {
			t.Errorf("Revision=%d, want 1", rec.Revision)
		}
	})

	t.Run("Save", func(t *testing.T) {
		// The earlier save(): DELETE FROM t, then INSERT each record,
		// in one transaction.
		s, lg := setup(t, "a", "b")
		ctx := t.Context()
		mustPut(t, s, "c", `{"n":1}`)
		recs := [][2]string{{"x", legacyDoc("x", 1)}, {"b", legacyDoc("b", 2)}, {"y", legacyDoc("y", 3)}}
		mustLegacy(t, lg.Save(ctx, "runs", recs))
		wantIDs(t, mustList(t, s.List(ctx, nil)), "x", "b", "y")
		for _, r := range recs {
			rec := mustGet(t, s, r[0])
			wantData(t, rec.Data, r[1])
			if rec.Revision != 1 {
				t.Errorf("%s: Revision=%d, want 1", r[0], rec.Revision)
			}
		}
		// Twice: the numbering continues past the first save's rows.
		mustLegacy(t, lg.Save(ctx, "runs", recs[:2]))
		mustPut(t, s, "z", `{}`)
		wantIDs(t, mustList(t, s.List(ctx, nil)), "x", "b", "z")
	})

	t.Run("ClearThenAdds", func(t *testing.T) {
		s, lg := setup(t, "a", "b")
		ctx := t.Context()
		mustLegacy(t, lg.Clear(ctx, "runs"))
		for _, id := range []string{"q1", "q2", "q3"} {
			mustLegacy(t, lg.Add(ctx, "runs", id, legacyDoc(id, 0)))
		}
		wantCount(t, s, 3)
		wantIDs(t, mustList(t, s.List(ctx, nil)), "q1", "q2", "q3")
		mustPut(t, s, "q4", `{}`)
		wantIDs(t, mustList(t, s.List(ctx, nil)), "q1", "q2", "q3", "q4")
	})

	t.Run("UpdateBumpsRevision", func(t *testing.T) {
		for _, how := range []string{"Update", "Add"} {
			t.Run(how, func(t *testing.T) {
				s, lg := setup(t, "a", "b")
				ctx := t.Context()
				read := mustGet(t, s, "a")
				mustPut(t, s, "c", `{}`)
				doc := legacyDoc("a", 7)
				if how == "Update" {
					mustLegacy(t, lg.Update(ctx, "runs", "a", doc))
				} else {
					mustLegacy(t, lg.Add(ctx, "runs", "a", doc))
				}
				got := mustGet(t, s, "a")
				wantData(t, got.Data, doc)
				if got.Revision != read.Revision+1 {
					t.Errorf("Revision=%d after the earlier writer's update, want %d", got.Revision, read.Revision+1)
				}
				if !got.Created.Equal(read.Created) {
					t.Errorf("Created=%v, want %v kept", got.Created, read.Created)
				}
				if got.Updated.Before(read.Updated) {
					t.Errorf("Updated=%v, before %v", got.Updated, read.Updated)
				}
				// The lost update revisions exist to prevent.
				_, err := s.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"mine":true}`), Revision: read.Revision})
				wantErr(t, err, persist.ErrConflict)
				_, err = s.Update(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"mine":true}`), Revision: read.Revision})
				wantErr(t, err, persist.ErrConflict)
				wantData(t, mustGet(t, s, "a").Data, doc)
				// A replace keeps the record's place.
				wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "b", "c")
				// persist's own writes still add exactly one.
				rec, err := s.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"mine":true}`), Revision: got.Revision})
				if err != nil || rec.Revision != got.Revision+1 {
					t.Errorf("Put at the current revision=%d, %v; want revision %d", rec.Revision, err, got.Revision+1)
				}
				rec, err = s.Update(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"more":1}`)})
				if err != nil || rec.Revision != got.Revision+2 {
					t.Errorf("Update=%d, %v; want revision %d", rec.Revision, err, got.Revision+2)
				}
			})
		}
	})

	t.Run("InsertOrIgnoreChangesNothing", func(t *testing.T) {
		s, lg := setup(t, "a")
		ctx := t.Context()
		before := mustGet(t, s, "a")
		mustLegacy(t, lg.InsertOrIgnore(ctx, "runs", "a", legacyDoc("a", 5)))
		wantRecord(t, mustGet(t, s, "a"), before)
		// Whatever the ignored insert noted must not leak into a later
		// write of the same id after the record is gone.
		if _, err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		mustLegacy(t, lg.Insert(ctx, "runs", "a", legacyDoc("a", 6)))
		rec := mustGet(t, s, "a")
		if rec.Revision != 1 {
			t.Errorf("re-inserted a: Revision=%d, want 1", rec.Revision)
		}
		mustLegacy(t, lg.InsertOrIgnore(ctx, "runs", "new", legacyDoc("new", 1)))
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "new")
	})

	t.Run("DeleteAndPersistWrites", func(t *testing.T) {
		s, lg := setup(t, "a", "b", "c")
		ctx := t.Context()
		mustLegacy(t, lg.Delete(ctx, "runs", "b"))
		wantMissing(t, s, "b")
		mustPut(t, s, "d", `{"n":4}`)
		rows, err := lg.Rows(ctx, "runs")
		mustLegacy(t, err)
		got := map[string]string{}
		for _, r := range rows {
			got[r[0]] = r[1]
		}
		if len(got) != 3 || got["d"] == "" {
			t.Errorf("earlier reader sees %v, want a, c and d", rows)
		}
		wantIDs(t, mustList(t, s.List(ctx, nil)), "a", "c", "d")
	})

	t.Run("OddIDsReachable", func(t *testing.T) {
		s, lg := setup(t)
		ctx := t.Context()
		ids := []string{"", strings.Repeat("x", 600), "line\nbreak", "tab\there", "\u0085next", "\x7f"}
		for i, id := range ids {
			mustLegacy(t, lg.Add(ctx, "runs", id, legacyDoc(id, i)))
		}
		listed := idsOf(mustList(t, s.List(ctx, nil)))
		if !slices.Equal(listed, ids) {
			t.Errorf("List=%q, want %q", listed, ids)
		}
		byID := slices.Clone(ids)
		slices.Sort(byID)
		wantIDs(t, mustList(t, s.List(ctx, &persist.ListOptions{Order: persist.ByID})), byID...)
		var paged []string
		for after := ""; ; {
			page := idsOf(mustList(t, s.List(ctx, &persist.ListOptions{Order: persist.ByID, After: after, Limit: 2})))
			paged = append(paged, page...)
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1]
		}
		if !slices.Equal(paged, byID) {
			t.Errorf("ByID pages of 2=%q, want %q", paged, byID)
		}
		for i, id := range ids {
			rec, err := s.Get(ctx, id)
			if err != nil {
				t.Errorf("Get(%q): %v", id, err)
				continue
			}
			wantData(t, rec.Data, legacyDoc(id, i))
			up, err := s.Update(ctx, persist.Record{ID: id, Data: json.RawMessage(`{"seen":true}`), Revision: rec.Revision})
			if err != nil || up.Revision != rec.Revision+1 {
				t.Errorf("Update(%q)=%d, %v; want revision %d", id, up.Revision, err, rec.Revision+1)
			}
			if _, err := s.UpdateFunc(ctx, id, func(cur persist.Record) (json.RawMessage, error) { return cur.Data, nil }); err != nil {
				t.Errorf("UpdateFunc(%q): %v", id, err)
			}
		}
		for _, id := range ids {
			ok, err := s.Delete(ctx, id)
			if !ok || err != nil {
				t.Errorf("Delete(%q)=%v, %v; want true", id, ok, err)
			}
		}
		wantCount(t, s, 0)
		res, err := s.InsertMany(ctx, []persist.Record{{ID: "", Data: json.RawMessage(`{}`)}, {ID: ids[1], Data: json.RawMessage(`{}`)}})
		if err != nil || res.Inserted != 2 {
			t.Errorf("InsertMany of odd ids=%+v, %v; want 2 inserted", res, err)
		}
		wantIDs(t, mustList(t, s.List(ctx, nil)), "", ids[1])
	})

	t.Run("Interleaved", func(t *testing.T) {
		// Both writers take turns on overlapping ids; the final state is
		// what the last write of each id says, in first-write order.
		s, lg := setup(t)
		ctx := t.Context()
		want := map[string]string{}
		var order []string
		note := func(id, data string) {
			if _, ok := want[id]; !ok {
				order = append(order, id)
			}
			want[id] = data
		}
		for i := range 60 {
			id := string(rune('a' + i%7))
			doc := legacyDoc(id, i)
			switch i % 5 {
			case 0:
				mustLegacy(t, lg.Add(ctx, "runs", id, doc))
				note(id, doc)
			case 1:
				mustPut(t, s, id, doc)
				note(id, doc)
			case 2:
				if _, ok := want[id]; ok {
					mustLegacy(t, lg.Update(ctx, "runs", id, doc))
					note(id, doc)
				}
			case 3:
				if _, ok := want[id]; ok && i%3 == 0 {
					mustLegacy(t, lg.Delete(ctx, "runs", id))
					delete(want, id)
					order = slices.DeleteFunc(order, func(x string) bool { return x == id })
				}
			case 4:
				mustLegacy(t, lg.InsertOrIgnore(ctx, "runs", id, doc))
				if _, ok := want[id]; !ok {
					note(id, doc)
				}
			}
		}
		recs := mustList(t, s.List(ctx, nil))
		wantIDs(t, recs, order...)
		for _, rec := range recs {
			wantData(t, rec.Data, want[rec.ID])
		}
		wantLegacyIDs(t, lg, order...)
	})
}

// wantLegacyIDs checks that the earlier portal's reader sees exactly ids,
// in any order: its physical order is not insertion order after updates.
func wantLegacyIDs(tb testing.TB, lg Legacy, ids ...string) {
	tb.Helper()
	rows, err := lg.Rows(tb.Context(), "runs")
	if err != nil {
		tb.Fatalf("legacy Rows: %v", err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r[0])
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		tb.Errorf("earlier reader sees %q, want %q", got, want)
	}
}

func testIDField(t *testing.T, open func(t *testing.T, idField string) (persist.DB, Legacy)) {
	db, lg := open(t, "id")
	ctx := t.Context()
	if err := lg.CreateTable(ctx, "runs"); err != nil {
		t.Fatalf("legacy CreateTable: %v", err)
	}
	s := mustStore(t, db, "runs")
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	// wantDocID checks what the earlier portal's reader sees.
	wantDocID := func(t *testing.T) {
		t.Helper()
		rows, err := lg.Rows(ctx, "runs")
		mustLegacy(t, err)
		for _, r := range rows {
			var doc map[string]any
			if err := json.Unmarshal([]byte(r[1]), &doc); err != nil || doc["id"] != r[0] {
				t.Errorf("earlier reader: row %q holds %s, want its id in \"id\"", r[0], r[1])
			}
		}
	}
	refused := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("%s with a disagreeing id field: err=%v, want %v", what, err, persist.ErrInvalid)
		}
	}

	rec := mustPut(t, s, "a", `{"n":1}`)
	wantData(t, rec.Data, `{"id":"a","n":1}`)
	wantData(t, mustGet(t, s, "a").Data, `{"id":"a","n":1}`)
	mustPut(t, s, "b", `{"n":2,"id":"b"}`)
	gen := mustPut(t, s, "", `{"n":3}`)
	wantData(t, gen.Data, `{"id":"`+gen.ID+`","n":3}`)
	if _, err := s.Insert(ctx, persist.Record{ID: "c", Data: raw(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertMany(ctx, []persist.Record{{ID: "d", Data: raw(`{"n":4}`)}, {ID: "e", Data: raw(`{"id":"e"}`)}}); err != nil {
		t.Fatal(err)
	}
	up, err := s.Update(ctx, persist.Record{ID: "a", Data: raw(`{"m":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, up.Data, `{"id":"a","n":1,"m":1}`)
	// A record the earlier writer stored without the field gets it on
	// its next write of persist's.
	mustLegacy(t, lg.Add(ctx, "runs", "old", `{"n":5}`))
	up, err = s.Update(ctx, persist.Record{ID: "old", Data: raw(`{"m":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, up.Data, `{"n":5,"id":"old","m":2}`)
	uf, err := s.UpdateFunc(ctx, "c", func(cur persist.Record) (json.RawMessage, error) { return raw(`{"fresh":true}`), nil })
	if err != nil {
		t.Fatal(err)
	}
	wantData(t, uf.Data, `{"id":"c","fresh":true}`)
	wantDocID(t)

	before := snapshot(t, s)
	_, err = s.Put(ctx, persist.Record{ID: "a", Data: raw(`{"id":"b"}`)})
	refused(t, "Put", err)
	_, err = s.Put(ctx, persist.Record{ID: "z", Data: raw(`{"id":7}`)})
	refused(t, "Put of a number", err)
	_, err = s.Insert(ctx, persist.Record{ID: "z", Data: raw(`{"id":null}`)})
	refused(t, "Insert", err)
	_, err = s.InsertMany(ctx, []persist.Record{{ID: "y", Data: raw(`{}`)}, {ID: "z", Data: raw(`{"id":"y"}`)}})
	refused(t, "InsertMany", err)
	_, err = s.Update(ctx, persist.Record{ID: "a", Data: raw(`{"id":"other"}`)})
	refused(t, "Update", err)
	_, err = s.UpdateFunc(ctx, "a", func(cur persist.Record) (json.RawMessage, error) { return raw(`{"id":"other"}`), nil })
	refused(t, "UpdateFunc", err)
	err = s.ReplaceAll(ctx, []persist.Record{{ID: "q", Data: raw(`{"id":"r"}`)}})
	refused(t, "ReplaceAll", err)
	if b, ok := s.(persist.Batcher); ok {
		_, err = b.PutMany(ctx, []persist.Record{{ID: "p", Data: raw(`{}`)}, {ID: "q", Data: raw(`{"id":"p"}`)}})
		refused(t, "PutMany", err)
	}
	if ap, ok := db.(persist.Applier); ok {
		_, err = ap.Apply(ctx, write("runs", persist.WritePut, "p", `{"id":"q"}`, 0))
		refused(t, "Apply", err)
	}
	wantUnchanged(t, s, before)

	if b, ok := s.(persist.Batcher); ok {
		out, err := b.PutMany(ctx, []persist.Record{{ID: "p", Data: raw(`{"n":6}`)}})
		if err != nil {
			t.Fatal(err)
		}
		wantData(t, out[0].Data, `{"id":"p","n":6}`)
	}
	if ap, ok := db.(persist.Applier); ok {
		out, err := ap.Apply(ctx, write("runs", persist.WriteInsert, "w", `{"n":7}`, 0))
		if err != nil {
			t.Fatal(err)
		}
		wantData(t, out[0].Data, `{"id":"w","n":7}`)
	}
	if err := s.ReplaceAll(ctx, []persist.Record{{ID: "r1", Data: raw(`{}`)}, {Data: raw(`{"k":1}`)}}); err != nil {
		t.Fatal(err)
	}
	for _, rec := range mustList(t, s.List(ctx, nil)) {
		var doc map[string]any
		if err := json.Unmarshal(rec.Data, &doc); err != nil || doc["id"] != rec.ID {
			t.Errorf("after ReplaceAll %q holds %s", rec.ID, rec.Data)
		}
	}
	wantDocID(t)
}
