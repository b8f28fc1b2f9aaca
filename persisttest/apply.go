package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/persistkit/persist"
)

// applier returns db as a persist.Applier, skipping the test when the DB
// does not implement that optional interface.
func applier(t *testing.T, db persist.DB) persist.Applier {
	t.Helper()
	a, ok := db.(persist.Applier)
	if !ok {
		t.Skip("DB does not implement persist.Applier")
	}
	return a
}

// plainDB has only the methods of [persist.DB]: through it [persist.Apply]
// takes its fallback.
type plainDB struct{ persist.DB }

// applyFunc makes a function an [persist.Applier].
type applyFunc func(ctx context.Context, ws ...persist.Write) ([]persist.Record, error)

func (f applyFunc) Apply(ctx context.Context, ws ...persist.Write) ([]persist.Record, error) {
	return f(ctx, ws...)
}

// fallback returns [persist.Apply]'s fallback on db as a persist.Applier.
func fallback(_ *testing.T, db persist.DB) persist.Applier {
	return applyFunc(func(ctx context.Context, ws ...persist.Write) ([]persist.Record, error) {
		return persist.Apply(ctx, plainDB{db}, ws...)
	})
}

func write(table string, op persist.WriteOp, id, data string, rev int64) persist.Write {
	w := persist.Write{Table: table, Op: op, Record: persist.Record{ID: id, Revision: rev}}
	if data != "" {
		w.Record.Data = json.RawMessage(data)
	}
	return w
}

// testApplier states Applier's contract for what applier returns: the DB's
// own Applier, or the fallback of [persist.Apply] over [persist.DB.Tx], which
// must keep the same contract.
func testApplier(t *testing.T, open openFunc, applier func(*testing.T, persist.DB) persist.Applier) {
	// twoTables opens a DB with tables a (records x and y) and b (empty).
	twoTables := func(t *testing.T) (persist.DB, persist.Applier, persist.Store, persist.Store, map[string]persist.Record) {
		t.Helper()
		db, a := openStore(t, open, "a")
		ap := applier(t, db)
		b := mustStore(t, db, "b")
		return db, ap, a, b, seed(t, a, "x", "y")
	}

	t.Run("AcrossTables", func(t *testing.T) {
		_, ap, a, b, old := twoTables(t)
		got, err := ap.Apply(t.Context(),
			write("a", persist.WriteInsert, "new", `{"n":1}`, 0),
			write("a", persist.WritePut, "x", `{"n":2}`, old["x"].Revision),
			write("a", persist.WriteDelete, "y", "", 0),
			write("b", persist.WritePut, "z", `{"n":3}`, 0),
			write("b", persist.WriteInsert, "w", `{"n":4}`, 0),
		)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if len(got) != 5 {
			t.Fatalf("Apply returned %d records, want 5", len(got))
		}
		for i, want := range []struct {
			id, data string
			rev      int64
		}{{"new", `{"n":1}`, 1}, {"x", `{"n":2}`, old["x"].Revision + 1}, {}, {"z", `{"n":3}`, 1}, {"w", `{"n":4}`, 1}} {
			if want.id == "" {
				if got[i].ID != "" || got[i].Revision != 0 {
					t.Errorf("Apply[%d] (a delete)=%+v, want a zero Record", i, got[i])
				}
				continue
			}
			if got[i].ID != want.id || got[i].Revision != want.rev {
				t.Errorf("Apply[%d]: id %q revision %d, want %q and %d", i, got[i].ID, got[i].Revision, want.id, want.rev)
			}
			wantData(t, got[i].Data, want.data)
			wantTimes(t, got[i])
		}
		wantRecord(t, mustGet(t, a, "x"), got[1])
		wantRecord(t, mustGet(t, a, "new"), got[0])
		wantMissing(t, a, "y")
		wantRecord(t, mustGet(t, b, "z"), got[3])
		wantRecord(t, mustGet(t, b, "w"), got[4])
		if !got[1].Created.Equal(old["x"].Created) {
			t.Errorf("x: Created=%v after a put, want %v kept", got[1].Created, old["x"].Created)
		}
	})

	t.Run("Check", func(t *testing.T) {
		// Checks that hold let the writes through and write nothing
		// themselves.
		_, ap, a, b, old := twoTables(t)
		got, err := ap.Apply(t.Context(),
			write("a", persist.WriteCheck, "x", "", old["x"].Revision),
			write("a", persist.WriteCheck, "absent", "", 0),
			write("b", persist.WritePut, "z", `{"n":1}`, 0),
		)
		if err != nil {
			t.Fatalf("Apply with checks that hold: %v", err)
		}
		if len(got) != 3 || got[0].ID != "" || got[1].ID != "" || got[2].ID != "z" {
			t.Errorf("Apply=%+v, want zero Records for the checks and z", got)
		}
		wantRecord(t, mustGet(t, a, "x"), old["x"])
		wantMissing(t, a, "absent")
		mustGet(t, b, "z")
	})

	t.Run("CreatesTables", func(t *testing.T) {
		db := open(t)
		ap := applier(t, db)
		if _, err := ap.Apply(t.Context(), write("fresh", persist.WritePut, "k", `{}`, 0)); err != nil {
			t.Fatalf("Apply to a new table: %v", err)
		}
		mustGet(t, mustStore(t, db, "fresh"), "k")
	})

	t.Run("Empty", func(t *testing.T) {
		_, ap, a, _, _ := twoTables(t)
		before := snapshot(t, a)
		got, err := ap.Apply(t.Context())
		if err != nil || len(got) != 0 {
			t.Errorf("Apply()=%v, %v; want no records and no error", got, err)
		}
		wantUnchanged(t, a, before)
	})

	// Each failing precondition, next to writes that would succeed on
	// their own: nothing at all is written.
	preconditions := []struct {
		name      string
		bad       func(old map[string]persist.Record) persist.Write
		target    error
		table, id string
	}{
		{"InsertExisting", func(map[string]persist.Record) persist.Write {
			return write("a", persist.WriteInsert, "x", `{"dup":true}`, 0)
		}, persist.ErrConflict, "a", "x"},
		{"StaleRevision", func(old map[string]persist.Record) persist.Write {
			return write("a", persist.WritePut, "x", `{"stale":true}`, old["x"].Revision+1)
		}, persist.ErrConflict, "a", "x"},
		{"RevisionOfMissing", func(map[string]persist.Record) persist.Write {
			return write("a", persist.WritePut, "nope", `{}`, 1)
		}, persist.ErrConflict, "a", "nope"},
		{"DeleteMissing", func(map[string]persist.Record) persist.Write {
			return write("a", persist.WriteDelete, "nope", "", 0)
		}, persist.ErrNotFound, "a", "nope"},
		{"CheckStale", func(old map[string]persist.Record) persist.Write {
			return write("a", persist.WriteCheck, "x", "", old["x"].Revision+1)
		}, persist.ErrConflict, "a", "x"},
		{"CheckMissing", func(map[string]persist.Record) persist.Write {
			return write("a", persist.WriteCheck, "nope", "", 1)
		}, persist.ErrConflict, "a", "nope"},
		{"CheckAbsentButExists", func(map[string]persist.Record) persist.Write {
			return write("a", persist.WriteCheck, "x", "", 0)
		}, persist.ErrConflict, "a", "x"},
	}
	for _, tc := range preconditions {
		t.Run("Precondition/"+tc.name, func(t *testing.T) {
			_, ap, a, b, old := twoTables(t)
			mustPut(t, b, "keep", `{"k":1}`)
			beforeA, beforeB := snapshot(t, a), snapshot(t, b)
			for _, last := range []bool{false, true} {
				ws := []persist.Write{
					write("b", persist.WritePut, "keep", `{"k":2}`, 0),
					write("b", persist.WriteInsert, "added", `{}`, 0),
					write("a", persist.WriteDelete, "y", "", 0),
				}
				if last {
					ws = append(ws, tc.bad(old))
				} else {
					ws = append([]persist.Write{tc.bad(old)}, ws...)
				}
				got, err := ap.Apply(t.Context(), ws...)
				if got != nil {
					t.Errorf("Apply returned records %v with error %v, want none", got, err)
				}
				wantOpErr(t, err, tc.target, "apply", tc.table, tc.id)
				wantUnchanged(t, a, beforeA)
				wantUnchanged(t, b, beforeB)
			}
		})
	}

	t.Run("Invalid", func(t *testing.T) {
		_, ap, a, b, _ := twoTables(t)
		beforeA, beforeB := snapshot(t, a), snapshot(t, b)
		for name, bad := range map[string]persist.Write{
			"Table":         write("Bad-Name", persist.WritePut, "k", `{}`, 0),
			"ReservedTable": write("persist_meta", persist.WritePut, "k", `{}`, 0),
			"EmptyID":       write("a", persist.WritePut, "", `{}`, 0),
			"ControlID":     write("a", persist.WriteInsert, "a\x00b", `{}`, 0),
			"NotObject":     write("a", persist.WritePut, "k", `[1]`, 0),
			"NotJSON":       write("a", persist.WriteInsert, "k", `{"a":`, 0),
			"NoData":        {Table: "a", Op: persist.WritePut, Record: persist.Record{ID: "k"}},
			"Op":            write("a", persist.WriteOp(99), "k", `{}`, 0),
			"NoOp":          write("a", 0, "k", `{}`, 0),
			"Revision":      write("a", persist.WritePut, "x", `{}`, -1),
		} {
			_, err := ap.Apply(t.Context(), write("b", persist.WritePut, "ok", `{}`, 0), bad)
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("%s: err=%v, want ErrInvalid", name, err)
			}
		}
		_, err := ap.Apply(t.Context(),
			write("b", persist.WritePut, "twice", `{}`, 0),
			write("b", persist.WriteDelete, "twice", "", 0))
		wantOpErr(t, err, persist.ErrInvalid, "apply", "b", "twice")
		// The same id in two tables is two records.
		if _, err := ap.Apply(t.Context(),
			write("a", persist.WritePut, "same", `{}`, 0),
			write("b", persist.WritePut, "same", `{}`, 0)); err != nil {
			t.Fatalf("Apply of one id in two tables: %v", err)
		}
		wantCount(t, a, int64(len(beforeA)+1))
		wantCount(t, b, int64(len(beforeB)+1))
	})

	t.Run("Canceled", func(t *testing.T) {
		_, ap, a, _, _ := twoTables(t)
		before := snapshot(t, a)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := ap.Apply(ctx, write("a", persist.WritePut, "z", `{}`, 0))
		wantErr(t, err, context.Canceled)
		wantUnchanged(t, a, before)
	})

	t.Run("Closed", func(t *testing.T) {
		db, ap, _, _, _ := twoTables(t)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := ap.Apply(t.Context(), write("a", persist.WritePut, "z", `{}`, 0))
		wantErr(t, err, persist.ErrClosed)
	})

	t.Run("ConcurrentReadModifyWrite", func(t *testing.T) {
		// Workers increment one counter and log each increment as a
		// record of its own, both in one Apply conditional on the
		// counter's revision: no increment is lost and none is logged
		// without being counted.
		db, ap, a, b, _ := twoTables(t)
		_ = db
		mustPut(t, a, "c", `{"n":0}`)
		workers, increments := 8, 25
		if testing.Short() {
			workers, increments = 4, 10
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		done := 0
		for w := range workers {
			wg.Go(func() {
				for i := 0; i < increments; {
					cur, err := a.Get(t.Context(), "c")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					next, err := increment(cur)
					if err != nil {
						t.Errorf("increment: %v", err)
						return
					}
					_, err = ap.Apply(t.Context(),
						persist.Write{Table: "a", Op: persist.WritePut, Record: persist.Record{ID: "c", Data: next, Revision: cur.Revision}},
						write("b", persist.WriteInsert, fmt.Sprintf("w%d-%d", w, i), string(next), 0))
					switch {
					case errors.Is(err, persist.ErrConflict):
						continue // lost the race: read again
					case err != nil:
						t.Errorf("Apply: %v", err)
						return
					}
					i++
					mu.Lock()
					done++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		n, err := numberAt(mustGet(t, a, "c").Data, "n")
		if err != nil {
			t.Fatal(err)
		}
		if n.String() != strconv.Itoa(done) || done != workers*increments {
			t.Errorf("counter=%s after %d successful increments, want %d", n, done, workers*increments)
		}
		wantCount(t, b, int64(done))
	})
}

// testApplyAgrees makes the same writes through the DB's own Applier and
// through the fallback of [persist.Apply], each on tables of its own with
// the same records, and checks that both return the same records, the same
// sentinel naming the same table and id, and leave the same records.
func testApplyAgrees(t *testing.T, open openFunc) {
	cases := []struct {
		name string
		ws   []persist.Write
		want error
	}{
		{"OK", []persist.Write{
			write("a", persist.WriteInsert, "new", `{"n":1}`, 0),
			write("a", persist.WritePut, "x", `{"n":2}`, 1),
			write("a", persist.WriteDelete, "y", "", 0),
			write("b", persist.WriteCheck, "absent", "", 0),
			write("a", persist.WriteCheck, "new2", "", 0),
			write("b", persist.WritePut, "z", `{"n":3}`, 0),
		}, nil},
		{"InsertExisting", []persist.Write{write("b", persist.WritePut, "z", `{}`, 0), write("a", persist.WriteInsert, "x", `{}`, 0)}, persist.ErrConflict},
		{"StalePut", []persist.Write{write("a", persist.WritePut, "x", `{}`, 2)}, persist.ErrConflict},
		{"DeleteMissing", []persist.Write{write("a", persist.WriteDelete, "nope", "", 0)}, persist.ErrNotFound},
		{"CheckStale", []persist.Write{write("a", persist.WriteCheck, "x", "", 3)}, persist.ErrConflict},
		{"CheckExists", []persist.Write{write("a", persist.WriteCheck, "y", "", 0)}, persist.ErrConflict},
		{"DuplicateID", []persist.Write{write("b", persist.WritePut, "z", `{}`, 0), write("b", persist.WriteDelete, "z", "", 0)}, persist.ErrInvalid},
		{"BadData", []persist.Write{write("a", persist.WritePut, "x", `[1]`, 0)}, persist.ErrInvalid},
		{"BadTable", []persist.Write{write("Bad", persist.WritePut, "x", `{}`, 0)}, persist.ErrInvalid},
		{"BadOp", []persist.Write{write("a", persist.WriteOp(9), "x", `{}`, 0)}, persist.ErrInvalid},
		{"EmptyID", []persist.Write{write("a", persist.WriteInsert, "", `{}`, 0)}, persist.ErrInvalid},
		{"NegativeRevision", []persist.Write{write("a", persist.WriteCheck, "x", "", -1)}, persist.ErrInvalid},
		// Invalid input wins over a precondition that fails before it.
		{"StaleThenBadData", []persist.Write{
			write("a", persist.WritePut, "x", `{}`, 9),
			write("a", persist.WriteDelete, "nope", "", 0),
			write("b", persist.WriteInsert, "z", `"text"`, 0),
		}, persist.ErrInvalid},
		{"StaleThenBadID", []persist.Write{
			write("a", persist.WriteInsert, "x", `{}`, 0),
			write("b", persist.WritePut, "b\x00", `{}`, 0),
		}, persist.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			ap := applier(t, db)
			// Side p writes to tables pa and pb.
			type outcome struct {
				got       any
				err       error
				table, id string // named by the error
				a, b      string // the tables afterwards
			}
			side := func(p string, ap persist.Applier) (o outcome) {
				sa, sb := mustStore(t, db, p+"a"), mustStore(t, db, p+"b")
				seed(t, sa, "x", "y")
				ws := make([]persist.Write, len(tc.ws))
				for i, w := range tc.ws {
					if w.Table == "a" || w.Table == "b" {
						w.Table = p + w.Table
					}
					ws[i] = w
				}
				recs, err := ap.Apply(t.Context(), ws...)
				if pe := (*persist.Error)(nil); errors.As(err, &pe) {
					o.table, o.id = strings.TrimPrefix(pe.Table, p), pe.ID
				}
				o.got, o.err = batchResult(recs), err
				o.a, o.b = fmt.Sprint(batchResult(snapshot(t, sa))), fmt.Sprint(batchResult(snapshot(t, sb)))
				return o
			}
			f, s := side("f", ap), side("s", fallback(t, db))
			fGot, fErr, fTable, fID, fa, fb := f.got, f.err, f.table, f.id, f.a, f.b
			sGot, sErr, sTable, sID, sa, sb := s.got, s.err, s.table, s.id, s.a, s.b
			for _, s := range []struct {
				name string
				err  error
			}{{"Applier", fErr}, {"fallback", sErr}} {
				if tc.want == nil && s.err != nil || tc.want != nil && !errors.Is(s.err, tc.want) {
					t.Errorf("%s: err=%v, want %v", s.name, s.err, tc.want)
				}
			}
			if fTable != sTable || fID != sID {
				t.Errorf("Applier's error names %s/%s, the fallback's %s/%s", fTable, fID, sTable, sID)
			}
			if fmt.Sprint(fGot) != fmt.Sprint(sGot) {
				t.Errorf("Applier returned %v, fallback %v", fGot, sGot)
			}
			if fa != sa || fb != sb {
				t.Errorf("after Apply the Applier's tables hold %v and %v, the fallback's %v and %v", fa, fb, sa, sb)
			}
		})
	}
}
