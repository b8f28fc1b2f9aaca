package persist_test

import (
	"context"
	"encoding/json"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/pgtest"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/persisttest"
	"github.com/persistkit/persist/postgres"
	"github.com/persistkit/persist/sqlite"
)

// The deprecated wrapper must behave exactly as the Store it wraps, so the
// conformance suite runs through it: syncDB hands out Stores that call the
// wrapper and nothing else.

type syncDB struct{ persist.DB }

func (d syncDB) Store(name string) (persist.Store, error) {
	s, err := d.DB.Store(name)
	if err != nil {
		return nil, err
	}
	return syncStore{persist.NewSyncStore(s, 10*time.Second), s}, nil
}

func (d syncDB) Tx(ctx context.Context, fn func(tx persist.Tx) error) error {
	return d.DB.Tx(ctx, func(tx persist.Tx) error { return fn(syncTx{tx}) })
}

type syncTx struct{ persist.Tx }

func (t syncTx) Store(name string) (persist.Store, error) {
	s, err := t.Tx.Store(name)
	if err != nil {
		return nil, err
	}
	return syncStore{persist.NewSyncStore(s, 10*time.Second), s}, nil
}

// syncStore adapts the wrapper back to Store. The wrapper takes no context,
// so the adapter checks it before each call: the one thing the wrapper
// cannot do by itself. A call whose context is done goes to the wrapped
// Store instead, which refuses it as the contract says, a closed DB
// before a done context.
type syncStore struct {
	s     *persist.SyncStore
	inner persist.Store
}

func (a syncStore) Name() string { return a.s.Name() }

func (a syncStore) Get(ctx context.Context, id string) (persist.Record, error) {
	if ctx.Err() != nil {
		return a.inner.Get(ctx, id)
	}
	return a.s.Get(id)
}

func (a syncStore) Put(ctx context.Context, rec persist.Record) (persist.Record, error) {
	if ctx.Err() != nil {
		return a.inner.Put(ctx, rec)
	}
	return a.s.Put(rec)
}

func (a syncStore) Insert(ctx context.Context, rec persist.Record) (persist.Record, error) {
	if ctx.Err() != nil {
		return a.inner.Insert(ctx, rec)
	}
	return a.s.Insert(rec)
}

func (a syncStore) InsertMany(ctx context.Context, recs []persist.Record) (persist.InsertResult, error) {
	if ctx.Err() != nil {
		return a.inner.InsertMany(ctx, recs)
	}
	return a.s.InsertMany(recs)
}

func (a syncStore) Update(ctx context.Context, patch persist.Record) (persist.Record, error) {
	if ctx.Err() != nil {
		return a.inner.Update(ctx, patch)
	}
	return a.s.Update(patch)
}

func (a syncStore) UpdateFunc(ctx context.Context, id string, fn persist.UpdateFunc) (persist.Record, error) {
	if ctx.Err() != nil {
		return a.inner.UpdateFunc(ctx, id, fn)
	}
	return a.s.UpdateFunc(id, fn)
}

func (a syncStore) Delete(ctx context.Context, id string) (bool, error) {
	if ctx.Err() != nil {
		return a.inner.Delete(ctx, id)
	}
	return a.s.Delete(id)
}

func (a syncStore) List(ctx context.Context, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	if ctx.Err() != nil {
		return a.inner.List(ctx, opts)
	}
	return each(func() ([]persist.Record, error) { return a.s.List(opts) })
}

func (a syncStore) Query(ctx context.Context, filter json.RawMessage, opts *persist.ListOptions) iter.Seq2[persist.Record, error] {
	if ctx.Err() != nil {
		return a.inner.Query(ctx, filter, opts)
	}
	return each(func() ([]persist.Record, error) { return a.s.Query(filter, opts) })
}

func (a syncStore) Find(ctx context.Context, q persist.Query) iter.Seq2[persist.Record, error] {
	if ctx.Err() != nil {
		return a.inner.Find(ctx, q)
	}
	return each(func() ([]persist.Record, error) { return a.s.Find(q) })
}

func (a syncStore) FindPage(ctx context.Context, q persist.Query) (persist.Page, error) {
	if ctx.Err() != nil {
		return a.inner.FindPage(ctx, q)
	}
	return a.s.FindPage(q)
}

func (a syncStore) CountWhere(ctx context.Context, q persist.Query) (int64, error) {
	if ctx.Err() != nil {
		return a.inner.CountWhere(ctx, q)
	}
	return a.s.CountWhere(q)
}

func (a syncStore) Count(ctx context.Context) (int64, error) {
	if ctx.Err() != nil {
		return a.inner.Count(ctx)
	}
	return a.s.Count()
}

func (a syncStore) Clear(ctx context.Context) (int64, error) {
	if ctx.Err() != nil {
		return a.inner.Clear(ctx)
	}
	return a.s.Clear()
}

func (a syncStore) ReplaceAll(ctx context.Context, recs []persist.Record) error {
	if ctx.Err() != nil {
		return a.inner.ReplaceAll(ctx, recs)
	}
	return a.s.ReplaceAll(recs)
}

func each(list func() ([]persist.Record, error)) iter.Seq2[persist.Record, error] {
	return func(yield func(persist.Record, error) bool) {
		recs, err := list()
		if err != nil {
			yield(persist.Record{}, err)
			return
		}
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func TestSyncStoreConformance(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		persisttest.TestStore(t, func(t *testing.T) persist.DB {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sync.db"))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return syncDB{db}
		})
	})
	t.Run("Postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		persisttest.TestStore(t, func(t *testing.T) persist.DB {
			schema := pgtest.Schema(t, url, "persist_sync_")
			cfg, err := postgres.ParseConfig(url)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Schema = schema
			db, err := postgres.OpenConfig(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return syncDB{db}
		})
	})
}

func TestSyncStoreSharedTables(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		persisttest.TestSharedTables(t, func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
			path := filepath.Join(t.TempDir(), "shared.db")
			lg := sqlitetest.OpenLegacy(t, path)
			cfg, err := sqlite.ParseConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg.IDField = idField
			db, err := sqlite.OpenConfig(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return syncDB{db}, lg
		})
	})
	t.Run("Postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		persisttest.TestSharedTables(t, func(t *testing.T, idField string) (persist.DB, persisttest.Legacy) {
			schema := pgtest.Schema(t, url, "persist_sync_")
			lg := pgtest.OpenLegacy(t, pgtest.WithSearchPath(t, url, schema, nil))
			cfg, err := postgres.ParseConfig(url)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Schema = schema
			cfg.IDField = idField
			db, err := postgres.OpenConfig(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return syncDB{db}, lg
		})
	})
}

func TestSyncStoreTimeout(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "timeout.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := db.Store("slow")
	if err != nil {
		t.Fatal(err)
	}
	s := persist.NewSyncStore(store, time.Nanosecond)
	time.Sleep(time.Millisecond)
	if _, err := s.Put(persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err == nil {
		// A nanosecond deadline has passed before the statement runs.
		t.Error("Put with an expired timeout succeeded, want a deadline error")
	}
	n, err := persist.NewSyncStore(store, 0).Count()
	if err != nil || n != 0 {
		t.Errorf("Count()=%d, %v; want 0, nil (nothing written by the timed-out Put)", n, err)
	}
}

// TestSyncStoreDeprecated proves that staticcheck flags a caller of the
// wrapper with SA1019, so users find every call site to move.
func TestSyncStoreDeprecated(t *testing.T) {
	bin, err := exec.LookPath("staticcheck")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "staticcheck")
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("staticcheck not installed: %v", err)
			}
			t.Skip("staticcheck not installed; make staticcheck installs it")
		}
	}
	out, _ := exec.Command(bin, "-checks", "SA1019", "./testdata/sa1019").CombinedOutput()
	if !strings.Contains(string(out), "SA1019") || !strings.Contains(string(out), "NewSyncStore") {
		t.Errorf("staticcheck output:\n%s\nwant an SA1019 report for NewSyncStore", out)
	}
}
