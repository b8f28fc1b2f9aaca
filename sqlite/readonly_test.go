package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/sqlitetest"
	"github.com/persistkit/persist/sqlite"
)

// mustRead returns the file's bytes.
func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestReadOnly_LegacyTableReadAsItIs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	order := []string{"m", "c", "z", "a", "q"}
	var rows []string
	for i, id := range order {
		kind := "odd"
		if i%2 == 0 {
			kind = "even"
		}
		rows = append(rows, id, fmt.Sprintf(`{"i": %d, "kind": "%s"}`, i, kind))
	}
	sqlitetest.SeedLegacy(t, path, "sources", rows...)
	before := mustRead(t, path)

	start := time.Now().Truncate(time.Microsecond)
	db, err := persist.Open(ctx, "sqlite:///"+path+"?mode=ro", nil)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := db.Tables(ctx)
	if err != nil || !slices.Equal(tables, []string{"sources"}) {
		t.Fatalf("Tables=%v, %v; want [sources]", tables, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	s := MustStore(t, db, "sources")

	t.Run("InsertionOrderIsRowidOrder", func(t *testing.T) {
		if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, order) {
			t.Fatalf("List=%v, want %v", got, order)
		}
		if got := IDs(t, s.List(ctx, &persist.ListOptions{After: "z"})); !slices.Equal(got, order[3:]) {
			t.Fatalf("List after z=%v, want %v", got, order[3:])
		}
		want := slices.Sorted(slices.Values(order))
		if got := IDs(t, s.List(ctx, &persist.ListOptions{Order: persist.ByID})); !slices.Equal(got, want) {
			t.Fatalf("List by id=%v, want %v", got, want)
		}
	})
	t.Run("RecordsAsAnUpgradeWouldShowThem", func(t *testing.T) {
		rec, err := s.Get(ctx, "z")
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Data) != `{"i": 2, "kind": "even"}` || rec.Revision != 1 || !rec.Created.Equal(rec.Updated) ||
			rec.Created.Before(start) || rec.Created.After(time.Now()) {
			t.Fatalf("Get(z) = %s rev %d created %v updated %v", rec.Data, rec.Revision, rec.Created, rec.Updated)
		}
		if n, err := s.Count(ctx); err != nil || n != 5 {
			t.Fatalf("Count=%d, %v; want 5", n, err)
		}
		if got := IDs(t, s.Query(ctx, json.RawMessage(`{"kind":"even"}`), nil)); !slices.Equal(got, []string{"m", "z", "q"}) {
			t.Fatalf("Query=%v, want [m z q]", got)
		}
		recs, err := s.(persist.Batcher).GetMany(ctx, []string{"a", "nope"})
		if err != nil || recs[0].ID != "a" || recs[0].Revision != 1 || recs[1].ID != "" {
			t.Fatalf("GetMany = %+v, %v", recs, err)
		}
	})
	t.Run("WritesFailErrInvalid", func(t *testing.T) {
		rec := persist.Record{ID: "n", Data: json.RawMessage(`{}`)}
		_, putErr := s.Put(ctx, rec)
		_, insErr := s.Insert(ctx, rec)
		_, manyErr := s.InsertMany(ctx, []persist.Record{rec})
		_, delErr := s.Delete(ctx, "m")
		_, clearErr := s.Clear(ctx)
		txErr := db.Tx(ctx, func(persist.Tx) error { return nil })
		for i, err := range []error{putErr, insErr, manyErr, delErr, clearErr, txErr} {
			if !errors.Is(err, persist.ErrInvalid) {
				t.Errorf("write %d: err=%v, want ErrInvalid", i, err)
			}
		}
		missing, err := db.Store("missing")
		if err != nil {
			t.Fatalf("Store(missing): %v", err)
		}
		if _, err := missing.Count(ctx); !errors.Is(err, persist.ErrNotFound) {
			t.Errorf("Count on missing: err=%v, want ErrNotFound", err)
		}
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if after := mustRead(t, path); !bytes.Equal(before, after) {
		t.Fatal("the file changed while opened read-only")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files next to the database: %d entries, want only the database", len(entries))
	}
}

func TestReadOnly_CurrentLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	w := MustStore(t, db, "events")
	for _, id := range []string{"b", "a", "c"} {
		if _, err := w.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(`{"id":"` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Update(ctx, persist.Record{ID: "a", Data: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, path)

	cfg, err := sqlite.ParseConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReadOnly = true
	ro, err := sqlite.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s := MustStore(t, ro, "events")
	if got := IDs(t, s.List(ctx, nil)); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Fatalf("List=%v, want [b a c]", got)
	}
	if rec, err := s.Get(ctx, "a"); err != nil || rec.Revision != 2 {
		t.Fatalf("Get(a) = rev %d, %v; want rev 2", rec.Revision, err)
	}
	if _, err := s.Put(ctx, persist.Record{ID: "d", Data: json.RawMessage(`{}`)}); !errors.Is(err, persist.ErrInvalid) {
		t.Fatalf("Put: err=%v, want ErrInvalid", err)
	}
	if after := mustRead(t, path); !bytes.Equal(before, after) {
		t.Fatal("the file changed while opened read-only")
	}
}

func TestReadOnly_OpenErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing.db")
	_, err := sqlite.Open(ctx, "sqlite:///"+missing+"?mode=ro")
	var ce *persist.ConnError
	if !errors.As(err, &ce) {
		t.Errorf("missing file: err=%v, want a *persist.ConnError", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open created %s", missing)
	}
	if _, err := sqlite.OpenConfig(ctx, &sqlite.Config{Path: sqlite.MemoryPath, ReadOnly: true}); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("in-memory: err=%v, want ErrInvalid", err)
	}
	if _, err := sqlite.Open(ctx, "sqlite:///x.db?mode=rw"); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("mode=rw: err=%v, want ErrInvalid", err)
	}
}
