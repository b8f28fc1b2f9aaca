package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/jsonx"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/migrate"
)

// directions are the online migrations tested: each backend as source.
var directions = []struct {
	name     string
	src, dst func(testing.TB) persist.DB
}{
	{"SQLiteToPostgres", mustOpenSQLite, mustOpenPostgres},
	{"PostgresToSQLite", mustOpenPostgres, mustOpenSQLite},
}

// writer writes to the source until halted: puts (inserts and
// replacements), patches and deletes, over a pool of ids of its own and
// the seeded ones, so that records are updated, deleted and inserted
// again under the same id.
type writer struct {
	stop   chan struct{}
	done   chan struct{}
	writes atomic.Int64 // writes that changed a record
	err    error
}

func startWriter(tb testing.TB, db persist.DB, tables []string, seeded int) *writer {
	tb.Helper()
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	stores := make([]persist.Store, len(tables))
	for i, t := range tables {
		stores[i] = mustStore(tb, db, t)
	}
	go func() {
		defer close(w.done)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			s := stores[rng.IntN(len(stores))]
			id := fmt.Sprintf("w-%03d", rng.IntN(200))
			if rng.IntN(2) == 0 {
				id = fmt.Sprintf("r-%05d", rng.IntN(seeded))
			}
			changed := true
			var err error
			switch rng.IntN(4) {
			case 0, 1:
				_, err = s.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"f":1.50,"s":"é"}`, i))})
			case 2:
				_, err = s.Update(ctx, persist.Record{ID: id, Data: json.RawMessage(fmt.Sprintf(`{"patched":%d}`, i))})
				if errors.Is(err, persist.ErrNotFound) {
					changed, err = false, nil
				}
			case 3:
				changed, err = s.Delete(ctx, id)
			}
			if err != nil {
				w.err = err
				return
			}
			if changed {
				w.writes.Add(1)
			}
			time.Sleep(time.Millisecond) // leave the databases some room on a small machine
		}
	}()
	tb.Cleanup(w.halt)
	return w
}

// halt stops the writer and waits for it; it may be called again.
func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// mustMatchByID compares two tables record by record in id order,
// independently of Copy: same ids, revisions and update times, and equal
// canonical documents.
func mustMatchByID(tb testing.TB, src, dst persist.DB, table string) int {
	tb.Helper()
	list := func(db persist.DB) []persist.Record {
		var out []persist.Record
		for rec, err := range mustStore(tb, db, table).List(context.Background(), &persist.ListOptions{Order: persist.ByID}) {
			if err != nil {
				tb.Fatalf("List(%s): %v", table, err)
			}
			out = append(out, rec)
		}
		return out
	}
	a, b := list(src), list(dst)
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			tb.Fatalf("%s: target has %q, not on the source", table, b[i].ID)
		case i >= len(b):
			tb.Fatalf("%s: target lacks %q", table, a[i].ID)
		case a[i].ID != b[i].ID:
			tb.Fatalf("%s[%d]: target %q, source %q", table, i, b[i].ID, a[i].ID)
		case a[i].Revision != b[i].Revision:
			tb.Fatalf("%s/%s: target revision %d, source %d", table, a[i].ID, b[i].Revision, a[i].Revision)
		case !a[i].Updated.Equal(b[i].Updated):
			tb.Fatalf("%s/%s: target updated %v, source %v", table, a[i].ID, b[i].Updated, a[i].Updated)
		}
		ca, err := jsonx.Canonical(a[i].Data)
		if err != nil {
			tb.Fatal(err)
		}
		cb, err := jsonx.Canonical(b[i].Data)
		if err != nil {
			tb.Fatal(err)
		}
		if !bytes.Equal(ca, cb) {
			tb.Fatalf("%s/%s: target %s, source %s", table, a[i].ID, cb, ca)
		}
	}
	return len(a)
}

// onlineSource opens a source with the feed on tables and seeds them.
func onlineSource(tb testing.TB, open func(testing.TB) persist.DB, tables []string, n int) persist.DB {
	tb.Helper()
	db := open(tb)
	if err := db.(persist.ChangeFeed).EnableFeed(context.Background(), tables...); err != nil {
		tb.Fatal(err)
	}
	for _, t := range tables {
		mustSeed(tb, db, t, n)
	}
	return db
}

// mustBeVerified checks that every table was verified with no mismatch.
func mustBeVerified(tb testing.TB, r *migrate.Report) {
	tb.Helper()
	for _, tr := range r.Tables {
		if !tr.Verified || tr.SourceChanged || tr.DigestMismatches != 0 || tr.ExtraTargetRows != 0 || tr.RowsVerified == 0 {
			tb.Fatalf("%s: verified %v, source_changed %v, mismatches %d, extra %d, verified rows %d (errors %q)", tr.Table,
				tr.Verified, tr.SourceChanged, tr.DigestMismatches, tr.ExtraTargetRows, tr.RowsVerified, tr.Errors)
		}
	}
}

// TestFollow_Online migrates two tables while a writer inserts, updates
// and deletes on the source throughout, from before the copy until well
// into following. Once the writer has stopped, StopFollow is closed:
// following catches up, and the verification finds no mismatch; an
// independent comparison finds the target equal to the source.
func TestFollow_Online(t *testing.T) {
	const n = 2000
	tables := []string{"a", "b"}
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			src := onlineSource(t, d.src, tables, n)
			dst := d.dst(t)
			w := startWriter(t, src, tables, n)
			stop := make(chan struct{})
			var (
				once     sync.Once
				base     int64 = -1
				maxLag   int64
				caughtUp bool
			)
			r, err := migrate.Copy(context.Background(), src, dst, &migrate.Options{
				Tables: tables, BatchSize: 300, Follow: true, StopFollow: stop,
				Progress: func(p migrate.Progress) {
					if p.Phase != migrate.PhaseFollow {
						return
					}
					maxLag = max(maxLag, p.LagRecords)
					caughtUp = caughtUp || p.LagRecords == 0
					if base < 0 {
						base = w.writes.Load()
					}
					// Stop once the writer has gone on writing while
					// following ran.
					if w.writes.Load()-base >= 100 {
						once.Do(func() {
							go func() {
								w.halt()
								close(stop)
							}()
						})
					}
				}})
			if w.err != nil {
				t.Fatalf("writer: %v", w.err)
			}
			if err != nil {
				t.Fatalf("Copy: %v (errors %q)", err, r.Totals.Errors)
			}
			mustBeVerified(t, r)
			f := r.Follow
			if f == nil || f.Resumed || f.ChangesRead == 0 || f.RecordsInserted == 0 || f.RecordsUpdated == 0 || f.RecordsDeleted == 0 {
				t.Fatalf("follow report %+v: want inserts, updates and deletes applied", f)
			}
			if !caughtUp || maxLag == 0 {
				t.Errorf("progress: caught up %v, largest lag %d records; want both seen", caughtUp, maxLag)
			}
			for _, table := range tables {
				got := mustMatchByID(t, src, dst, table)
				t.Logf("%s: %d records equal; %d writes, follow %+v", table, got, w.writes.Load(), *f)
			}
		})
	}
}

// TestFollow_KilledThenResumed cancels a run while it follows, as a kill
// would stop it, and runs it again: the second run copies nothing,
// applies exactly the changes after the cursor the first one saved, and
// ends verified.
func TestFollow_KilledThenResumed(t *testing.T) {
	const n = 1000
	tables := []string{"a", "b"}
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			src := onlineSource(t, d.src, tables, n)
			dst := d.dst(t)
			w := startWriter(t, src, tables, n)

			kill, cancel := context.WithCancel(ctx)
			defer cancel()
			var base int64 = -1
			r1, err := migrate.Copy(kill, src, dst, &migrate.Options{
				Tables: tables, BatchSize: 200, Follow: true, StopFollow: make(chan struct{}),
				Progress: func(p migrate.Progress) {
					if p.Phase != migrate.PhaseFollow {
						return
					}
					if base < 0 {
						base = w.writes.Load()
					}
					if p.Done > 0 && p.LagRecords == 0 && w.writes.Load()-base >= 50 {
						cancel() // with changes applied, and more to come
					}
				}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v, want context.Canceled", err)
			}
			// The writer runs from before the copy, so a record it deleted
			// before the copy read it is not copied: the count is not 2n.
			if r1.Follow == nil || r1.Follow.ChangesRead == 0 || r1.Totals.RowsInserted == 0 {
				t.Fatalf("first run: inserted %d, follow %+v", r1.Totals.RowsInserted, r1.Follow)
			}
			// The writer goes on while no migrator runs, then stops.
			for at := w.writes.Load(); w.writes.Load() < at+50 && w.err == nil; {
				time.Sleep(time.Millisecond)
			}
			w.halt()
			if w.err != nil {
				t.Fatalf("writer: %v", w.err)
			}
			after := changesAfterSaved(t, src, dst, tables)

			r2, err := migrate.Copy(ctx, src, dst, &migrate.Options{Tables: tables, BatchSize: 200, Follow: true})
			if err != nil {
				t.Fatalf("second run: %v (errors %q)", err, r2.Totals.Errors)
			}
			if !r2.Follow.Resumed || r2.Totals.RowsRead != 0 || r2.Follow.ChangesRead != after {
				t.Fatalf("second run: resumed %v, rows read %d, changes read %d; want true, 0, %d (the changes after the saved cursor)",
					r2.Follow.Resumed, r2.Totals.RowsRead, r2.Follow.ChangesRead, after)
			}
			mustBeVerified(t, r2)
			for _, table := range tables {
				mustMatchByID(t, src, dst, table)
			}
		})
	}
}

// changesAfterSaved writes a last record to the source and counts the
// source's changes after the cursor saved on the target, up to that
// record's. It follows the feed until the record's change arrives: a
// feed may hold changes back for a while (PostgreSQL's, until older
// transactions on the server end).
func changesAfterSaved(tb testing.TB, src, dst persist.DB, tables []string) int64 {
	tb.Helper()
	var saved []persist.Record
	for rec, err := range mustStore(tb, dst, migrate.StateTable).List(context.Background(), nil) {
		if err != nil {
			tb.Fatal(err)
		}
		saved = append(saved, rec)
	}
	if len(saved) != 1 {
		tb.Fatalf("%d records in %s, want 1", len(saved), migrate.StateTable)
	}
	var st struct{ Cursor string }
	if err := json.Unmarshal(saved[0].Data, &st); err != nil || st.Cursor == "" {
		tb.Fatalf("state %s: %v", saved[0].Data, err)
	}
	mustPut(tb, src, tables[0], "zz-last", `{"last":true}`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var n int64
	for ch, err := range src.(persist.ChangeFeed).Changes(ctx, st.Cursor, &persist.FeedOptions{Tables: tables, Follow: true}) {
		if err != nil {
			tb.Fatal(err)
		}
		if n++; ch.ID == "zz-last" {
			break
		}
	}
	if n == 0 {
		tb.Fatal("no change after the saved cursor: the test resumes nothing")
	}
	return n
}

// TestFollow_NoFeed asks to follow a source without the feed, or with it
// on only some tables: Copy fails before copying anything, naming the
// tables that lack it.
func TestFollow_NoFeed(t *testing.T) {
	for _, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			src, dst := s.open(t), mustOpenSQLite(t)
			mustPut(t, src, "a", "1", `{}`)
			mustPut(t, src, "b", "1", `{}`)
			for _, c := range []struct {
				enable []string
				want   []string
			}{{nil, []string{"a", "b"}}, {[]string{"a"}, []string{"b"}}} {
				if len(c.enable) > 0 {
					if err := src.(persist.ChangeFeed).EnableFeed(ctx, c.enable...); err != nil {
						t.Fatal(err)
					}
				}
				r, err := migrate.Copy(ctx, src, dst, &migrate.Options{Follow: true})
				var nf *migrate.NoFeedError
				if !errors.As(err, &nf) || !errors.Is(err, persist.ErrInvalid) || !slices.Equal(nf.Tables, c.want) {
					t.Fatalf("feed on %v: Copy error %v, want a NoFeedError naming %v", c.enable, err, c.want)
				}
				if len(r.Tables) != 0 || len(mustTables(t, dst)) != 0 {
					t.Fatalf("feed on %v: copied %v before failing", c.enable, mustTables(t, dst))
				}
			}
		})
	}
	t.Run("DryRun", func(t *testing.T) {
		src, dst := mustOpenSQLite(t), mustOpenSQLite(t)
		if _, err := migrate.Copy(context.Background(), src, dst, &migrate.Options{Follow: true, DryRun: true}); !errors.Is(err, persist.ErrInvalid) {
			t.Fatalf("Follow with DryRun: %v, want ErrInvalid", err)
		}
	})
}

// TestFollow_EarlierPortal migrates tables in the earlier portal's layout
// online, as the README says: the source is opened with persist once to
// turn the feed on, and the portal's own statements keep writing while the
// migration follows, one of them a document the target cannot store
// (U+0000 in a string). Its inserts, replacements, updates and deletes
// reach the target; the bad document is a rejected record, counted and
// named, not a mismatch, and the rest verifies.
func TestFollow_EarlierPortal(t *testing.T) {
	ctx := context.Background()
	for _, target := range sources {
		t.Run("To"+target.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "portal.db")
			rows := []string{}
			for i := range 300 {
				rows = append(rows, fmt.Sprintf("u%03d", i), fmt.Sprintf(`{"name":"user %d","n":1e%d}`, i, i%5))
			}
			seedPortalFile(t, path, "users", rows...)
			src := mustOpenURL(t, sqliteURL(path))
			if err := src.(persist.ChangeFeed).EnableFeed(ctx, "users"); err != nil {
				t.Fatal(err)
			}
			portal := sqlitetest.OpenLegacy(t, path)
			dst := target.open(t)
			stop := make(chan struct{})
			var once sync.Once
			r, err := migrate.Copy(ctx, src, dst, &migrate.Options{Follow: true, StopFollow: stop, BatchSize: 100,
				Progress: func(p migrate.Progress) {
					if p.Phase != migrate.PhaseFollow {
						return
					}
					once.Do(func() {
						for _, err := range []error{
							portal.Add(ctx, "users", "u001", `{"name":"replaced"}`),
							portal.Update(ctx, "users", "u002", `{"name":"updated"}`),
							portal.Delete(ctx, "users", "u003"),
							portal.Insert(ctx, "users", "u900", `{"name":"new"}`),
							portal.Add(ctx, "users", "bad", `{"name":"a\u0000b"}`),
						} {
							if err != nil {
								t.Error(err)
							}
						}
						close(stop)
					})
				}})
			var pf *migrate.PartialFailureError
			if !errors.As(err, &pf) || pf.Failed != 1 {
				t.Fatalf("Copy error = %v, want one rejected record (errors %q)", err, r.Totals.Errors)
			}
			tr := r.Tables[0]
			if !tr.Verified || tr.DigestMismatches != 0 || tr.RowsFailed != 1 || r.Follow.RecordsFailed != 1 ||
				!slices.ContainsFunc(tr.Errors, func(e string) bool { return strings.HasPrefix(e, "users/bad: rejected by target") }) {
				t.Fatalf("table %+v, follow %+v", tr, r.Follow)
			}
			if f := r.Follow; f.RecordsInserted != 1 || f.RecordsUpdated != 2 || f.RecordsDeleted != 1 {
				t.Fatalf("follow %+v, want 1 inserted, 2 updated, 1 deleted", f)
			}
			if _, err := mustStore(t, src, "users").Delete(ctx, "bad"); err != nil {
				t.Fatal(err)
			}
			if _, err := mustStore(t, dst, "users").Get(ctx, "bad"); !errors.Is(err, persist.ErrNotFound) {
				t.Fatalf("target bad: %v", err)
			}
			mustMatchByID(t, src, dst, "users")
		})
	}
}
