package sqlite_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/sqlite"
)

func TestMemory_SharedAcrossConnections(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"sqlite://:memory:", "sqlite::memory:", "file::memory:"} {
		t.Run(url, func(t *testing.T) {
			db, err := persist.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			s := MustStore(t, db, "items")
			MustPut(t, s, "a", `{"n":1}`)

			// Reads go to the reader pool; many goroutines at once use
			// several reader connections, all of which must see the write.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Go(func() {
					rec, err := s.Get(ctx, "a")
					if err != nil {
						errs <- err
						return
					}
					if string(rec.Data) != `{"n":1}` {
						errs <- errors.New("wrong data " + string(rec.Data))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}

func TestMemory_HandlesAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	MustPut(t, MustStore(t, a, "items"), "a", `{}`)
	n, err := MustStore(t, b, "items").Count(ctx)
	if err != nil || n != 0 {
		t.Fatalf("Count in other handle=%d, %v; want 0, nil", n, err)
	}
}

func TestMemory_WriteWhileIterating(t *testing.T) {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := MustStore(t, db, "items")
	for _, id := range []string{"a", "b", "c"} {
		MustPut(t, s, id, `{}`)
	}
	var seen []string
	for rec, err := range s.List(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, rec.ID)
		if _, err := s.Delete(ctx, rec.ID); err != nil {
			t.Fatalf("Delete during List: %v", err)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("seen=%v, want 3 records", seen)
	}
}
