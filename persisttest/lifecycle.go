package persisttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
)

// call is one method invocation reduced to its error, so that the lifecycle
// tests can run every method the same way.
type call struct {
	name string
	fn   func(ctx context.Context) error
}

// allCalls returns one call of every DB and Store method that takes a
// context, each of which would write, or read, something if it succeeded.
func allCalls(tb testing.TB, db persist.DB, s persist.Store) []call {
	data := json.RawMessage(`{"v":"written"}`)
	return []call{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, "a"); return err }},
		{"Put", func(ctx context.Context) error {
			_, err := s.Put(ctx, persist.Record{ID: "new", Data: data})
			return err
		}},
		{"PutExisting", func(ctx context.Context) error {
			_, err := s.Put(ctx, persist.Record{ID: "a", Data: data})
			return err
		}},
		{"Insert", func(ctx context.Context) error {
			_, err := s.Insert(ctx, persist.Record{ID: "new", Data: data})
			return err
		}},
		{"InsertMany", func(ctx context.Context) error {
			_, err := s.InsertMany(ctx, []persist.Record{{ID: "new", Data: data}})
			return err
		}},
		{"Update", func(ctx context.Context) error {
			_, err := s.Update(ctx, persist.Record{ID: "a", Data: data})
			return err
		}},
		{"UpdateFunc", func(ctx context.Context) error {
			_, err := s.UpdateFunc(ctx, "a", func(persist.Record) (json.RawMessage, error) { return data, nil })
			return err
		}},
		{"Delete", func(ctx context.Context) error { _, err := s.Delete(ctx, "a"); return err }},
		{"List", func(ctx context.Context) error { _, err := collect(tb, s.List(ctx, nil)); return err }},
		{"Query", func(ctx context.Context) error {
			_, err := collect(tb, s.Query(ctx, json.RawMessage(`{"v":1}`), nil))
			return err
		}},
		{"Find", func(ctx context.Context) error {
			_, err := collect(tb, s.Find(ctx, persist.Where("v", "==", 1)))
			return err
		}},
		{"FindPage", func(ctx context.Context) error { _, err := s.FindPage(ctx, persist.Where("v", "==", 1)); return err }},
		{"CountWhere", func(ctx context.Context) error { _, err := s.CountWhere(ctx, persist.Where("v", "==", 1)); return err }},
		{"Count", func(ctx context.Context) error { _, err := s.Count(ctx); return err }},
		{"Clear", func(ctx context.Context) error { _, err := s.Clear(ctx); return err }},
		{"ReplaceAll", func(ctx context.Context) error {
			return s.ReplaceAll(ctx, []persist.Record{{ID: "new", Data: data}})
		}},
		{"Tables", func(ctx context.Context) error { _, err := db.Tables(ctx); return err }},
		{"Ping", func(ctx context.Context) error { return db.Ping(ctx) }},
		{"Tx", func(ctx context.Context) error {
			// The writes use a live context, so only Tx's own context can
			// stop them.
			return db.Tx(ctx, func(tx persist.Tx) error {
				ts, err := tx.Store("items")
				if err != nil {
					return err
				}
				_, err = ts.Put(context.Background(), persist.Record{ID: "new", Data: data})
				return err
			})
		}},
	}
}

func testLifecycle(t *testing.T, open openFunc) {
	t.Run("StoreIsLazy", func(t *testing.T) {
		// DB.Store takes no context, so it must do no I/O: the table is
		// made by the first operation that uses it, under that
		// operation's context, whose error that operation returns.
		db := open(t)
		a := mustStore(t, db, "lazy_a")
		b := mustStore(t, db, "lazy_b")
		wantTables := func(want ...string) {
			t.Helper()
			if names := mustTables(t, db); !slices.Equal(names, want) {
				t.Errorf("Tables()=%q, want %q", names, want)
			}
		}
		wantTables()
		for _, c := range allCalls(t, db, a) {
			switch c.name {
			case "Tables", "Ping", "Tx":
				continue
			}
			err := c.fn(canceled())
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context on a new store: err=%v, want one matching %v", c.name, err, context.Canceled)
			}
			var pe *persist.Error
			if errors.As(err, &pe) && pe.Op == "store" {
				t.Errorf("%s: err=%v names op store, want the operation's own", c.name, err)
			}
		}
		wantTables()
		wantMissing(t, a, "x") // a read is a first use too
		wantTables("lazy_a")
		mustPut(t, b, "x", `{}`)
		wantTables("lazy_a", "lazy_b")
		if got := mustGet(t, mustStore(t, db, "lazy_b"), "x"); got.Revision != 1 {
			t.Errorf("Get through a second Store handle: Revision=%v, want 1", got.Revision)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		before := snapshot(t, s)
		for _, c := range allCalls(t, db, s) {
			t.Run(c.name, func(t *testing.T) {
				err := c.fn(canceled())
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err=%v, want one matching %v", err, context.Canceled)
				}
				wantUnchanged(t, s, before)
			})
		}
		if names := mustTables(t, db); !slices.Equal(names, []string{"items"}) {
			t.Errorf("Tables()=%q, want [items]", names)
		}
	})

	t.Run("DeadlineExceeded", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		before := snapshot(t, s)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		for _, c := range allCalls(t, db, s) {
			switch c.name {
			case "Get", "Put", "UpdateFunc", "List", "Tx":
			default:
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				if err := c.fn(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err=%v, want one matching %v", err, context.DeadlineExceeded)
				}
			})
		}
		wantUnchanged(t, s, before)
	})

	t.Run("Ping", func(t *testing.T) {
		db := open(t)
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("CloseTwice", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{}`)
		if err := db.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("ErrClosed", func(t *testing.T) {
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		// An iterator made before Close but ranged after it.
		seq := s.List(context.Background(), nil)
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		calls := allCalls(t, db, s)
		calls = append(calls,
			call{"Store", func(context.Context) error { _, err := db.Store("items"); return err }},
			call{"StoreNew", func(context.Context) error { _, err := db.Store("fresh"); return err }},
			call{"IteratorFromBefore", func(context.Context) error { _, err := collect(t, seq); return err }},
		)
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				if err := c.fn(t.Context()); !errors.Is(err, persist.ErrClosed) {
					t.Errorf("err=%v, want one matching %v", err, persist.ErrClosed)
				}
			})
		}
	})

	t.Run("CloseDuringUse", func(t *testing.T) {
		// Calls racing with Close either complete or fail with ErrClosed;
		// once Close has returned, every call fails with ErrClosed.
		const workers = 4
		db, s := openStore(t, open, "items")
		mustPut(t, s, "a", `{"v":1}`)
		var wg sync.WaitGroup
		ready := make(chan struct{}, workers)
		closed := make(chan struct{})
		final := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				ctx := context.Background()
				afterClose := 0
				for i := 0; ; i++ {
					if i == 5 {
						ready <- struct{}{}
					}
					var err error
					switch w {
					case 0:
						_, err = s.Put(ctx, persist.Record{ID: fmt.Sprintf("w%d-%d", w, i), Data: json.RawMessage(`{}`)})
					case 1:
						_, err = s.Get(ctx, "a")
					case 2:
						_, err = collect(t, s.List(ctx, &persist.ListOptions{Limit: 5}))
					default:
						_, err = s.UpdateFunc(ctx, "a", rewrite)
					}
					if err != nil {
						if i < 5 {
							ready <- struct{}{} // let Close go ahead anyway
						}
						final[w] = err
						return
					}
					select {
					case <-closed:
						if afterClose++; afterClose > 1 {
							final[w] = errors.New("calls kept succeeding after Close returned")
							return
						}
					default:
					}
				}
			})
		}
		for range workers {
			<-ready
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		close(closed)
		wg.Wait()
		for w, err := range final {
			if !errors.Is(err, persist.ErrClosed) {
				t.Errorf("worker %d ended with err=%v, want one matching %v", w, err, persist.ErrClosed)
			}
		}
	})
}

// rewrite is an UpdateFunc that stores the record unchanged, bumping
// only its revision.
func rewrite(cur persist.Record) (json.RawMessage, error) { return cur.Data, nil }
