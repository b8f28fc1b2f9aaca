package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/migrate"
)

// sources are the backends a source can be on.
var sources = []struct {
	name string
	open func(testing.TB) persist.DB
}{
	{"SQLite", mustOpenSQLite},
	{"PostgreSQL", mustOpenPostgres},
}

// TestCopy_SourceChanged writes to the source while a table is copied, at
// fixed points of the copy (from Progress, which Copy calls between
// batches), so the outcome does not depend on timing: an update and a
// delete of a record already copied, and an insert after the whole table
// was read. Each must be reported as a changed source, never as verified,
// with and without the change feed on the source. A write to a record the
// copy has not read yet, and no write at all, leave the copy verified.
func TestCopy_SourceChanged(t *testing.T) {
	const n, batch = 1000, 20
	type writeFn func(t *testing.T, s persist.Store, first, last string)
	cases := []struct {
		name  string
		phase migrate.Phase // the write happens at the first Progress of this phase with a record done
		write writeFn
		moved bool
	}{
		{"UpdateAfterRead", migrate.PhaseCopy, func(t *testing.T, s persist.Store, first, _ string) {
			if _, err := s.Update(context.Background(), persist.Record{ID: first, Data: json.RawMessage(`{"late":true}`)}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"DeleteAfterRead", migrate.PhaseCopy, func(t *testing.T, s persist.Store, first, _ string) {
			if ok, err := s.Delete(context.Background(), first); err != nil || !ok {
				t.Fatalf("Delete = %v, %v", ok, err)
			}
		}, true},
		{"InsertAfterRead", migrate.PhaseVerify, func(t *testing.T, s persist.Store, _, _ string) {
			if _, err := s.Insert(context.Background(), persist.Record{ID: "zz-late", Data: json.RawMessage(`{"late":true}`)}); err != nil {
				t.Fatal(err)
			}
		}, true},
		// At the first progress the reader is at most three batches and
		// a page of the backend's listing (500 records at most) ahead, so
		// the last record is read after this update: the copy is faithful
		// to the source as it ends.
		{"UpdateBeforeRead", migrate.PhaseCopy, func(t *testing.T, s persist.Store, _, last string) {
			if _, err := s.Update(context.Background(), persist.Record{ID: last, Data: json.RawMessage(`{"early":true}`)}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"NoWrite", migrate.PhaseCopy, func(*testing.T, persist.Store, string, string) {}, false},
	}
	for _, src := range sources {
		for _, feed := range []bool{false, true} {
			name := src.name + "/NoFeed"
			if feed {
				name = src.name + "/Feed"
			}
			t.Run(name, func(t *testing.T) {
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) {
						ctx := context.Background()
						from, to := src.open(t), mustOpenSQLite(t)
						if feed {
							if err := from.(persist.ChangeFeed).EnableFeed(ctx, "runs"); err != nil {
								t.Fatal(err)
							}
						}
						mustSeed(t, from, "runs", n)
						recs := dump(t, from, "runs")
						s := mustStore(t, from, "runs")
						var once sync.Once
						r, err := migrate.Copy(ctx, from, to, &migrate.Options{BatchSize: batch, Progress: func(p migrate.Progress) {
							if p.Phase == c.phase && (p.Done > 0 || p.Phase == migrate.PhaseVerify) {
								once.Do(func() { c.write(t, s, recs[0].ID, recs[len(recs)-1].ID) })
							}
						}})
						tr := r.Tables[0]
						if !c.moved {
							if err != nil || r.SourceChanged || tr.SourceChanged || !tr.Verified {
								t.Fatalf("Copy = %v, source_changed %v/%v, verified %v; want nil, false, true (errors %q)",
									err, r.SourceChanged, tr.SourceChanged, tr.Verified, tr.Errors)
							}
							mustEqualTables(t, from, to, "runs", src.name == "SQLite")
							return
						}
						var sce *migrate.SourceChangedError
						if !errors.Is(err, migrate.ErrSourceChanged) || !errors.As(err, &sce) || !slices.Equal(sce.Tables, []string{"runs"}) {
							t.Fatalf("Copy error = %v, want a SourceChangedError naming runs", err)
						}
						if !r.SourceChanged || !tr.SourceChanged || tr.Verified {
							t.Fatalf("source_changed %v/%v, verified %v; want true, true, false", r.SourceChanged, tr.SourceChanged, tr.Verified)
						}
						if len(tr.Errors) == 0 {
							t.Fatal("no error names the changed table")
						}
					})
				}
			})
		}
	}
}

// TestCopy_SourceChangedEarlierPortal reads a table in the earlier
// portal's layout from a file opened read-only, as persist-migrate opens
// it, so the table is not upgraded and has no revisions or times of its
// own, while the portal's own statements write to it: an update and a
// delete of a record already copied, and an insert after the table was
// read, must each be reported as a changed source.
func TestCopy_SourceChangedEarlierPortal(t *testing.T) {
	const n, batch = 1000, 20
	ctx := context.Background()
	cases := []struct {
		name  string
		phase migrate.Phase
		write func(l sqlitetest.Legacy, first string) error
	}{
		{"UpdateAfterRead", migrate.PhaseCopy, func(l sqlitetest.Legacy, first string) error {
			return l.Update(ctx, "users", first, `{"late":true}`)
		}},
		{"ReplaceAfterRead", migrate.PhaseCopy, func(l sqlitetest.Legacy, first string) error {
			return l.Add(ctx, "users", first, `{"late":true}`)
		}},
		{"DeleteAfterRead", migrate.PhaseCopy, func(l sqlitetest.Legacy, first string) error {
			return l.Delete(ctx, "users", first)
		}},
		{"InsertAfterRead", migrate.PhaseVerify, func(l sqlitetest.Legacy, _ string) error {
			return l.Insert(ctx, "users", "zz-late", `{"late":true}`)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "portal.db")
			var rows []string
			for i := range n {
				rows = append(rows, fmt.Sprintf("u%04d", i), fmt.Sprintf(`{"n":%d}`, i))
			}
			seedPortalFile(t, path, "users", rows...)
			portal := sqlitetest.OpenLegacy(t, path)
			src := mustOpenURL(t, sqliteURL(path)+"?mode=ro")
			var once sync.Once
			r, err := migrate.Copy(ctx, src, mustOpenSQLite(t), &migrate.Options{BatchSize: batch, Progress: func(p migrate.Progress) {
				if p.Phase == c.phase && (p.Done > 0 || p.Phase == migrate.PhaseVerify) {
					once.Do(func() {
						if err := c.write(portal, "u0000"); err != nil {
							t.Error(err)
						}
					})
				}
			}})
			if !errors.Is(err, migrate.ErrSourceChanged) || !r.Tables[0].SourceChanged || r.Tables[0].Verified {
				t.Fatalf("Copy error = %v, source_changed %v, verified %v; want ErrSourceChanged, true, false",
					err, r.Tables[0].SourceChanged, r.Tables[0].Verified)
			}
		})
	}
}
