package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/persistkit/persist"
)

// TestConcurrency_Sanity runs writers, readers, listers and
// read-modify-writes at once and checks that no update is lost.
func TestConcurrency_Sanity(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	s := MustStore(t, db, "counters")
	MustPut(t, s, "c", `{"n":0}`)

	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*4)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := s.UpdateFunc(ctx, "c", func(cur persist.Record) (json.RawMessage, error) {
					var v struct{ N int }
					if err := json.Unmarshal(cur.Data, &v); err != nil {
						return nil, err
					}
					return json.RawMessage(fmt.Sprintf(`{"n":%d}`, v.N+1)), nil
				})
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.Put(ctx, persist.Record{ID: fmt.Sprintf("w%d-%d", w, i), Data: []byte(`{}`)}); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range each {
				if _, err := s.Get(ctx, "c"); err != nil {
					errs <- err
					return
				}
				for _, err := range s.List(ctx, &persist.ListOptions{Limit: 10}) {
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"n":%d}`, workers*each); string(rec.Data) != want {
		t.Fatalf("Data=%s, want %s", rec.Data, want)
	}
	if rec.Revision != workers*each+1 {
		t.Fatalf("Revision=%d, want %d", rec.Revision, workers*each+1)
	}
	if n, err := s.Count(ctx); err != nil || n != workers*each+1 {
		t.Fatalf("Count=%d, %v; want %d", n, err, workers*each+1)
	}
}
