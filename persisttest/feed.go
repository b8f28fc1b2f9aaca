package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// TestChangeFeed checks a DB's [persist.ChangeFeed]; it skips when the DB
// does not implement it. open returns a new, empty DB and, when lg is not
// nil, a [Legacy] writer on the same database, whose statements the feed
// must record too.
//
// The checks, grouped as the subtests are named:
//   - Enable: EnableFeed creates missing tables, is idempotent, and
//     rejects an invalid name with [persist.ErrInvalid]; Cursor and
//     Changes on a table without the feed, or a database where it was
//     never enabled, are ErrInvalid and name the table; writes made before
//     EnableFeed are not in the feed.
//   - Writes: every kind of write appears once, with its table, id,
//     operation, revision, document and a UTC time: Put (insert, then
//     update), Insert, Update, UpdateFunc, Delete, InsertMany, Clear (a
//     delete per record), ReplaceAll (a delete per old record, an insert
//     per new one), writes in [persist.DB.Tx] and in [persist.Applier]'s
//     Apply; a failed write, a delete of a missing id, an InsertMany skip
//     and a rolled-back transaction record nothing.
//   - Resume: the changes of one pass come in commit order; resuming from
//     the cursor of any change yields exactly the ones after it; the
//     cursor from Cursor yields only what commits afterwards; Tables
//     restricts the feed, whatever their order; a feed longer than one
//     read comes whole.
//   - Cursor: garbage, a cursor of another database, and one of another
//     set of tables are ErrInvalid.
//   - Retention: Prune with MaxRows keeps the newest changes; the cursor of
//     the newest pruned change still resumes, an older one and the empty
//     cursor fail with [persist.ErrCursorExpired]; MaxAge keeps changes
//     younger than it and prunes older ones; negative bounds are
//     ErrInvalid and the zero Retention prunes nothing.
//   - Follow: a follower receives a write committed after it started, and
//     stops with the context's error when the context ends.
//   - Closed: after Close every method is [persist.ErrClosed], whatever
//     its input.
//   - Legacy: on a table persist created and on one in the earlier layout
//     that EnableFeed upgrades, the earlier portal's statements appear
//     like persist's own: an insert at revision 1, a replace or update as
//     an update with the bumped revision, deletes, clears and save() as
//     deletes and inserts; an INSERT OR IGNORE of an existing id records
//     nothing.
//
// A backend may hold changes back until it can deliver them in commit
// order (PostgreSQL waits for older transactions to end), so the checks
// read until a marker written last arrives rather than expecting a
// single read to return everything.
func TestChangeFeed(t *testing.T, open func(t *testing.T) (persist.DB, Legacy)) {
	feedOf := func(t *testing.T) (persist.DB, persist.ChangeFeed, Legacy) {
		t.Helper()
		db, lg := open(t)
		f, ok := db.(persist.ChangeFeed)
		if !ok {
			t.Skipf("%T does not implement persist.ChangeFeed", db)
		}
		return db, f, lg
	}
	t.Run("Enable", func(t *testing.T) { testFeedEnable(t, feedOf) })
	t.Run("Writes", func(t *testing.T) { testFeedWrites(t, feedOf) })
	t.Run("Resume", func(t *testing.T) { testFeedResume(t, feedOf) })
	t.Run("Cursor", func(t *testing.T) { testFeedCursor(t, feedOf) })
	t.Run("Retention", func(t *testing.T) { testFeedRetention(t, feedOf) })
	t.Run("Follow", func(t *testing.T) { testFeedFollow(t, feedOf) })
	t.Run("Closed", func(t *testing.T) { testFeedClosed(t, feedOf) })
	t.Run("Legacy", func(t *testing.T) { testFeedLegacy(t, feedOf) })
}

func testFeedClosed(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	ctx := t.Context()
	mustEnable(t, f, "a")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.EnableFeed(ctx, "a"), persist.ErrClosed)
	wantErr(t, f.EnableFeed(ctx, "Bad"), persist.ErrClosed)
	_, err := f.Cursor(ctx, nil)
	wantErr(t, err, persist.ErrClosed)
	wantErr(t, feedErr(f, "garbage", nil), persist.ErrClosed)
	_, err = f.Prune(ctx, persist.Retention{MaxRows: -1})
	wantErr(t, err, persist.ErrClosed)
}

type feedOpener = func(t *testing.T) (persist.DB, persist.ChangeFeed, Legacy)

// feedWait bounds how long a check waits for changes that must come; it
// is a guard against a hang, not a latency requirement.
const feedWait = time.Minute

var fenceN atomic.Int64

// drain writes a marker record to table, then follows the feed from cursor
// until the marker arrives, and returns the changes before it (markers of
// earlier drains left out) and the marker's cursor.
func drain(tb testing.TB, db persist.DB, f persist.ChangeFeed, cursor string, opts *persist.FeedOptions, table string) ([]persist.Change, string) {
	tb.Helper()
	fence := fmt.Sprintf("~fence%d", fenceN.Add(1))
	if _, err := mustStore(tb, db, table).Put(context.Background(), persist.Record{ID: fence, Data: json.RawMessage(`{}`)}); err != nil {
		tb.Fatalf("Put fence: %v", err)
	}
	o := persist.FeedOptions{Follow: true}
	if opts != nil {
		o.Tables = opts.Tables
	}
	ctx, cancel := context.WithTimeout(context.Background(), feedWait)
	defer cancel()
	var got []persist.Change
	for c, err := range f.Changes(ctx, cursor, &o) {
		if err != nil {
			tb.Fatalf("Changes after %d changes: %v", len(got), err)
		}
		if c.ID == fence {
			return got, c.Cursor
		}
		if !strings.HasPrefix(c.ID, "~fence") {
			got = append(got, c)
		}
	}
	tb.Fatalf("Changes stopped before the marker")
	return nil, ""
}

// summary is a change as "table/id op revision".
func summary(cs []persist.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s/%s %v %d", c.Table, c.ID, c.Op, c.Revision)
	}
	return out
}

func wantChanges(tb testing.TB, got []persist.Change, want ...string) {
	tb.Helper()
	if g := summary(got); !slices.Equal(g, want) {
		tb.Fatalf("changes:\n got  %q\n want %q", g, want)
	}
}

func mustEnable(tb testing.TB, f persist.ChangeFeed, tables ...string) {
	tb.Helper()
	if err := f.EnableFeed(context.Background(), tables...); err != nil {
		tb.Fatalf("EnableFeed(%q): %v", tables, err)
	}
}

func mustCursor(tb testing.TB, f persist.ChangeFeed, opts *persist.FeedOptions) string {
	tb.Helper()
	c, err := f.Cursor(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Cursor: %v", err)
	}
	return c
}

// feedErr reads without following and returns the first error.
func feedErr(f persist.ChangeFeed, cursor string, opts *persist.FeedOptions) error {
	for _, err := range f.Changes(context.Background(), cursor, opts) {
		if err != nil {
			return err
		}
	}
	return nil
}

func testFeedEnable(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	ctx := t.Context()
	if err := feedErr(f, "", nil); !errors.Is(err, persist.ErrInvalid) {
		t.Fatalf("Changes before any EnableFeed: %v, want ErrInvalid", err)
	}
	old := mustStore(t, db, "runs")
	mustPut(t, old, "before", `{"n":0}`)
	mustEnable(t, f, "runs", "events")
	mustEnable(t, f, "runs", "events") // idempotent
	if tables := mustTables(t, db); !slices.Contains(tables, "events") {
		t.Fatalf("Tables()=%q, want events created by EnableFeed", tables)
	}
	for _, bad := range []string{"", "Bad", "persist_changes", "sqlite_x"} {
		err := f.EnableFeed(ctx, "runs", bad)
		wantErr(t, err, persist.ErrInvalid)
	}
	mustStore(t, db, "plain")
	_, err := f.Cursor(ctx, &persist.FeedOptions{Tables: []string{"runs", "plain"}})
	wantErr(t, err, persist.ErrInvalid)
	var pe *persist.Error
	if !errors.As(err, &pe) || pe.Table != "plain" {
		t.Fatalf("Cursor on a table without the feed: %v, want an *Error naming plain", err)
	}
	err = feedErr(f, "", &persist.FeedOptions{Tables: []string{"plain"}})
	wantErr(t, err, persist.ErrInvalid)
	got, _ := drain(t, db, f, "", nil, "runs")
	wantChanges(t, got)
}

func testFeedWrites(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	ctx := t.Context()
	mustEnable(t, f, "runs", "other")
	s := mustStore(t, db, "runs")
	cur := mustCursor(t, f, nil)

	mustPut(t, s, "a", `{"n":1}`)
	mustPut(t, s, "a", `{"n":2}`)
	if _, err := s.Insert(ctx, persist.Record{ID: "b", Data: json.RawMessage(`{"n":3}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, persist.Record{ID: "b", Data: json.RawMessage(`{"n":4}`)}); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("Insert existing: %v", err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"n":5}`), Revision: 1}); !errors.Is(err, persist.ErrConflict) {
		t.Fatalf("stale Put: %v", err)
	}
	if _, err := s.Update(ctx, persist.Record{ID: "b", Data: json.RawMessage(`{"m":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFunc(ctx, "b", func(r persist.Record) (json.RawMessage, error) { return json.RawMessage(`{"u":1}`), nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Delete(ctx, "a"); err != nil || !ok {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	if ok, err := s.Delete(ctx, "a"); err != nil || ok {
		t.Fatalf("Delete missing: %v %v", ok, err)
	}
	if _, err := s.InsertMany(ctx, []persist.Record{{ID: "b", Data: json.RawMessage(`{}`)}, {ID: "c", Data: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	got, cur := drain(t, db, f, cur, nil, "other")
	wantChanges(t, got, "runs/a insert 1", "runs/a update 2", "runs/b insert 1", "runs/b update 2", "runs/b update 3",
		"runs/a delete 2", "runs/c insert 1")
	wantData(t, got[1].Data, `{"n":2}`)
	wantData(t, got[4].Data, `{"u":1}`)
	if got[5].Data != nil {
		t.Fatalf("delete Data=%s, want nil", got[5].Data)
	}
	for _, c := range got {
		if c.Time.IsZero() || c.Time.Location() != time.UTC || c.Cursor == "" {
			t.Fatalf("change %+v: want a UTC time and a cursor", c)
		}
	}

	if n, err := s.Clear(ctx); err != nil || n != 2 {
		t.Fatalf("Clear: %d %v", n, err)
	}
	got, cur = drain(t, db, f, cur, nil, "other")
	slices.SortFunc(got, func(a, b persist.Change) int { return strings.Compare(a.ID, b.ID) })
	wantChanges(t, got, "runs/b delete 3", "runs/c delete 1")

	mustPut(t, s, "x", `{}`)
	if err := s.ReplaceAll(ctx, []persist.Record{{ID: "y", Data: json.RawMessage(`{"y":1}`)}, {ID: "z", Data: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	got, cur = drain(t, db, f, cur, nil, "other")
	wantChanges(t, got, "runs/x insert 1", "runs/x delete 1", "runs/y insert 1", "runs/z insert 1")
	wantData(t, got[2].Data, `{"y":1}`)

	err := db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("runs")
		if err != nil {
			return err
		}
		to, err := tx.Store("other")
		if err != nil {
			return err
		}
		if _, err := ts.Put(ctx, persist.Record{ID: "t1", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		_, err = to.Put(ctx, persist.Record{ID: "t2", Data: json.RawMessage(`{}`)})
		return err
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	rollback := errors.New("roll back")
	err = db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("runs")
		if err != nil {
			return err
		}
		if _, err := ts.Put(ctx, persist.Record{ID: "gone", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("Tx: %v, want the function's error", err)
	}
	got, cur = drain(t, db, f, cur, nil, "other")
	wantChanges(t, got, "runs/t1 insert 1", "other/t2 insert 1")

	if ap, ok := db.(persist.Applier); ok {
		_, err := ap.Apply(ctx, persist.Write{Table: "runs", Op: persist.WritePut, Record: persist.Record{ID: "p", Data: json.RawMessage(`{}`)}},
			persist.Write{Table: "runs", Op: persist.WriteDelete, Record: persist.Record{ID: "y"}})
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		_, err = ap.Apply(ctx, persist.Write{Table: "runs", Op: persist.WritePut, Record: persist.Record{ID: "q", Data: json.RawMessage(`{}`)}},
			persist.Write{Table: "runs", Op: persist.WriteDelete, Record: persist.Record{ID: "missing"}})
		wantErr(t, err, persist.ErrNotFound)
		got, _ = drain(t, db, f, cur, nil, "other")
		slices.SortFunc(got, func(a, b persist.Change) int { return strings.Compare(a.ID, b.ID) })
		wantChanges(t, got, "runs/p insert 1", "runs/y delete 1")
	}
}

func testFeedResume(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	ctx := t.Context()
	mustEnable(t, f, "a", "b")
	sa, sb := mustStore(t, db, "a"), mustStore(t, db, "b")
	start := mustCursor(t, f, nil)
	for i := range 5 {
		mustPut(t, sa, fmt.Sprint("a", i), `{}`)
		mustPut(t, sb, fmt.Sprint("b", i), `{}`)
	}
	all, _ := drain(t, db, f, start, nil, "a")
	want := summary(all)
	if len(want) != 10 {
		t.Fatalf("got %d changes, want 10: %q", len(all), want)
	}
	for i, c := range all {
		rest, _ := drain(t, db, f, c.Cursor, nil, "a")
		wantChanges(t, rest, want[i+1:]...)
	}
	// From the cursor of now, only later writes.
	now := mustCursor(t, f, nil)
	mustPut(t, sa, "later", `{}`)
	got, _ := drain(t, db, f, now, nil, "a")
	wantChanges(t, got, "a/later insert 1")

	// Tables restricts, whatever the order of the set.
	onlyB := &persist.FeedOptions{Tables: []string{"b"}}
	cb := mustCursor(t, f, onlyB)
	mustPut(t, sa, "x", `{}`)
	mustPut(t, sb, "y", `{}`)
	got, _ = drain(t, db, f, cb, onlyB, "b")
	wantChanges(t, got, "b/y insert 1")
	ab := mustCursor(t, f, &persist.FeedOptions{Tables: []string{"a", "b", "a"}})
	mustPut(t, sa, "z", `{}`)
	got, _ = drain(t, db, f, ab, &persist.FeedOptions{Tables: []string{"b", "a"}}, "b")
	wantChanges(t, got, "a/z insert 1")

	// More changes than a backend reads at once, interleaved with changes
	// of a table the reader does not follow.
	many := make([]persist.Record, 1200)
	for i := range many {
		many[i] = persist.Record{ID: fmt.Sprintf("m%04d", i), Data: json.RawMessage(`{}`)}
	}
	cb = mustCursor(t, f, onlyB)
	if _, err := sa.InsertMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.InsertMany(ctx, many); err != nil {
		t.Fatal(err)
	}
	got, _ = drain(t, db, f, cb, onlyB, "b")
	if len(got) != len(many) || got[0].ID != "m0000" || got[len(got)-1].ID != "m1199" || got[0].Table != "b" {
		t.Fatalf("InsertMany of %d records: %d changes, want one per record of b", len(many), len(got))
	}
}

func testFeedCursor(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	mustEnable(t, f, "a", "b")
	mustPut(t, mustStore(t, db, "a"), "x", `{}`)
	got, _ := drain(t, db, f, "", nil, "a")
	if len(got) != 1 {
		t.Fatalf("got %q", summary(got))
	}
	c := got[0].Cursor
	if err := feedErr(f, c, nil); err != nil {
		t.Fatalf("Changes(own cursor): %v", err)
	}
	for name, bad := range map[string]string{
		"Garbage":   "not a cursor",
		"Truncated": c[:len(c)-3],
		"Padded":    c + "AAAA",
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, feedErr(f, bad, nil), persist.ErrInvalid)
		})
	}
	t.Run("OtherTables", func(t *testing.T) {
		err := feedErr(f, c, &persist.FeedOptions{Tables: []string{"a"}})
		wantErr(t, err, persist.ErrInvalid)
		ca := mustCursor(t, f, &persist.FeedOptions{Tables: []string{"a"}})
		wantErr(t, feedErr(f, ca, &persist.FeedOptions{Tables: []string{"a", "b"}}), persist.ErrInvalid)
		wantErr(t, feedErr(f, ca, nil), persist.ErrInvalid)
	})
	t.Run("OtherDatabase", func(t *testing.T) {
		_, f2, _ := open(t)
		mustEnable(t, f2, "a", "b")
		wantErr(t, feedErr(f2, c, nil), persist.ErrInvalid)
	})
}

func testFeedRetention(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	ctx := t.Context()
	mustEnable(t, f, "a")
	s := mustStore(t, db, "a")
	for i := range 6 {
		mustPut(t, s, fmt.Sprint(i), `{}`)
	}
	all, _ := drain(t, db, f, "", nil, "a")
	if len(all) != 6 {
		t.Fatalf("got %q", summary(all))
	}
	for _, bad := range []persist.Retention{{MaxAge: -1}, {MaxRows: -1}} {
		_, err := f.Prune(ctx, bad)
		wantErr(t, err, persist.ErrInvalid)
	}
	if n, err := f.Prune(ctx, persist.Retention{}); err != nil || n != 0 {
		t.Fatalf("Prune(zero)=%d, %v; want 0", n, err)
	}
	if n, err := f.Prune(ctx, persist.Retention{MaxAge: time.Hour}); err != nil || n != 0 {
		t.Fatalf("Prune(MaxAge: 1h)=%d, %v; want 0", n, err)
	}
	if err := feedErr(f, "", nil); err != nil {
		t.Fatalf("Changes from the beginning, nothing pruned: %v", err)
	}
	// Keep the newest 4 of the 7 changes (6 records and a marker): the
	// first three go.
	if n, err := f.Prune(ctx, persist.Retention{MaxRows: 4}); err != nil || n != 3 {
		t.Fatalf("Prune(MaxRows: 4)=%d, %v; want 3", n, err)
	}
	wantErr(t, feedErr(f, "", nil), persist.ErrCursorExpired)
	wantErr(t, feedErr(f, all[1].Cursor, nil), persist.ErrCursorExpired)
	// The cursor of the newest pruned change lacks nothing.
	rest, last := drain(t, db, f, all[2].Cursor, nil, "a")
	wantChanges(t, rest, summary(all[3:])...)
	if n, err := f.Prune(ctx, persist.Retention{MaxRows: 100}); err != nil || n != 0 {
		t.Fatalf("Prune(MaxRows: 100)=%d, %v; want 0", n, err)
	}

	// By age: everything written before a pause goes, and a cursor from
	// before it expires; the cursor of the newest pruned change does not.
	time.Sleep(5 * time.Millisecond)
	n, err := f.Prune(ctx, persist.Retention{MaxAge: time.Millisecond})
	if err != nil || n == 0 {
		t.Fatalf("Prune(MaxAge: 1ms)=%d, %v; want some", n, err)
	}
	wantErr(t, feedErr(f, all[4].Cursor, nil), persist.ErrCursorExpired)
	mustPut(t, s, "new", `{}`)
	got, _ := drain(t, db, f, last, nil, "a")
	wantChanges(t, got, "a/new insert 1")
}

func testFeedFollow(t *testing.T, open feedOpener) {
	db, f, _ := open(t)
	mustEnable(t, f, "a")
	s := mustStore(t, db, "a")
	cur := mustCursor(t, f, nil)
	ctx, cancel := context.WithTimeout(t.Context(), feedWait)
	defer cancel()
	started := make(chan struct{})
	type result struct {
		c   persist.Change
		err error
	}
	out := make(chan result, 4)
	go func() {
		close(started)
		for c, err := range f.Changes(ctx, cur, &persist.FeedOptions{Follow: true}) {
			out <- result{c, err}
			if err != nil {
				return
			}
		}
	}()
	<-started
	mustPut(t, s, "x", `{"x":1}`)
	r := <-out
	if r.err != nil || r.c.ID != "x" || r.c.Op != persist.ChangeInsert {
		t.Fatalf("followed %+v, %v; want the insert of x", r.c, r.err)
	}
	cancel()
	r = <-out
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("after cancel: %+v, %v; want context.Canceled", r.c, r.err)
	}
}

func testFeedLegacy(t *testing.T, open feedOpener) {
	t.Run("Created", func(t *testing.T) { testFeedLegacyOn(t, open, false) })
	t.Run("Upgraded", func(t *testing.T) { testFeedLegacyOn(t, open, true) })
}

// testFeedLegacyOn runs the earlier portal's statements on a table persist
// created, or on one in the earlier layout that EnableFeed upgrades.
func testFeedLegacyOn(t *testing.T, open feedOpener, upgraded bool) {
	db, f, lg := open(t)
	if lg == nil {
		t.Skip("no Legacy writer")
	}
	ctx := t.Context()
	if upgraded {
		mustLegacy(t, lg.CreateTable(ctx, "runs"))
		mustLegacy(t, lg.Add(ctx, "runs", "old", legacyDoc("old", 0)))
	}
	mustEnable(t, f, "runs")
	cur := mustCursor(t, f, nil)
	mustLegacy(t, lg.Add(ctx, "runs", "a", legacyDoc("a", 1)))
	mustLegacy(t, lg.Add(ctx, "runs", "a", legacyDoc("a", 2)))
	mustLegacy(t, lg.Insert(ctx, "runs", "b", legacyDoc("b", 1)))
	mustLegacy(t, lg.InsertOrIgnore(ctx, "runs", "b", legacyDoc("b", 9)))
	mustLegacy(t, lg.InsertOrIgnore(ctx, "runs", "c", legacyDoc("c", 1)))
	mustLegacy(t, lg.Update(ctx, "runs", "b", legacyDoc("b", 2)))
	mustLegacy(t, lg.Delete(ctx, "runs", "c"))
	got, cur := drain(t, db, f, cur, nil, "runs")
	wantChanges(t, got, "runs/a insert 1", "runs/a update 2", "runs/b insert 1", "runs/c insert 1", "runs/b update 2", "runs/c delete 1")
	wantData(t, got[4].Data, legacyDoc("b", 2))

	mustLegacy(t, lg.Save(ctx, "runs", [][2]string{{"s1", legacyDoc("s1", 1)}}))
	got, cur = drain(t, db, f, cur, nil, "runs")
	var dels []string
	for _, c := range got[:len(got)-1] {
		if c.Op != persist.ChangeDelete {
			t.Fatalf("save(): %q, want deletes then one insert", summary(got))
		}
		dels = append(dels, c.ID)
	}
	slices.Sort(dels)
	wantDels := []string{"a", "b"}
	if upgraded {
		wantDels = []string{"a", "b", "old"}
	}
	if !slices.Equal(dels, wantDels) || len(got) == 0 || summary(got[len(got)-1:])[0] != "runs/s1 insert 1" {
		t.Fatalf("save(): %q, want deletes of %q (the earlier marker aside), then s1's insert", summary(got), wantDels)
	}
	mustLegacy(t, lg.Clear(ctx, "runs"))
	got, _ = drain(t, db, f, cur, nil, "runs")
	wantChanges(t, got, "runs/s1 delete 1")
}
