package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/postgres"
)

// countingHandler counts the retry records logged at debug level.
type countingHandler struct{ retries *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "persist: retrying transient error", "persist: connection lost; retrying on another connection":
		h.retries.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestFaultTerminatedConnections has 8 goroutines Get and Put for 5 seconds
// while the server terminates the pool's connections every 200 ms.
// Idempotent operations must never surface an error, and every Put that
// succeeded must be readable afterwards.
func TestFaultTerminatedConnections(t *testing.T) {
	schema := newSchema(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	app := "persist_fault_" + hex.EncodeToString(b[:])
	var retries atomic.Int64
	ctx := t.Context()
	db, err := openWith(ctx, withSearchPath(t, schema, map[string]string{"application_name": app}), func(c *postgres.Config) {
		c.Logger = slog.New(countingHandler{&retries})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := mustStore(t, db, "items")
	if _, err := s.Count(ctx); err != nil { // create the table before the faults start
		t.Fatal(err)
	}

	killer, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(context.Background())

	const (
		workers  = 8
		duration = 5 * time.Second
	)
	stop := make(chan struct{})
	var kills, killRounds atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rows, err := killer.Query(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app)
			if err != nil {
				t.Errorf("terminate: %v", err)
				return
			}
			n, err := pgx.CollectRows(rows, pgx.RowTo[bool])
			if err != nil {
				t.Errorf("terminate: %v", err)
				return
			}
			kills.Add(int64(len(n)))
			killRounds.Add(1)
		}
	})

	type put struct{ id, data string }
	var (
		ops, failures atomic.Int64
		mu            sync.Mutex
		written       []put
	)
	for w := range workers {
		wg.Go(func() {
			var mine []put
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					written = append(written, mine...)
					mu.Unlock()
					return
				default:
				}
				opCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				if i%2 == 0 || len(mine) == 0 {
					p := put{id: fmt.Sprintf("w%d-%d", w, i), data: fmt.Sprintf(`{"w": %d, "i": %d}`, w, i)}
					if _, err := s.Put(opCtx, persist.Record{ID: p.id, Data: []byte(p.data)}); err != nil {
						failures.Add(1)
						t.Errorf("Put(%s): %v", p.id, err)
					} else {
						mine = append(mine, p)
					}
				} else {
					p := mine[i%len(mine)]
					rec, err := s.Get(opCtx, p.id)
					if err != nil {
						failures.Add(1)
						t.Errorf("Get(%s): %v", p.id, err)
					} else if !jsonEqual(rec.Data, []byte(p.data)) {
						t.Errorf("Get(%s)=%s, want %s", p.id, rec.Data, p.data)
					}
				}
				cancel()
				ops.Add(1)
			}
		})
	}
	time.Sleep(duration)
	close(stop)
	wg.Wait()

	for _, p := range written {
		rec, err := s.Get(ctx, p.id)
		if err != nil {
			t.Errorf("after the faults, Get(%s): %v", p.id, err)
		} else if !jsonEqual(rec.Data, []byte(p.data)) {
			t.Errorf("after the faults, Get(%s)=%s, want %s", p.id, rec.Data, p.data)
		}
	}
	t.Logf("ops=%d failures=%d puts=%d retries=%d terminated=%d in %d rounds",
		ops.Load(), failures.Load(), len(written), retries.Load(), kills.Load(), killRounds.Load())
	if kills.Load() == 0 {
		t.Errorf("no connection was terminated; the test proved nothing")
	}
}

// jsonEqual reports whether a and b are the same JSON value; jsonb stores
// keys in its own order and spaces its output.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	return da.Decode(&va) == nil && db.Decode(&vb) == nil && reflect.DeepEqual(va, vb)
}

// TestUnavailableAfterOpen checks that an open DB whose server goes away reports
// ErrUnavailable.
func TestUnavailableAfterOpen(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, c.adminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	c.run(t, "pg_ctl", "-D", c.dir+"/data", "-m", "immediate", "-w", "stop")
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The first call may still find the old connection and see it fail;
	// within a few calls the pool must be connecting and failing.
	var perr error
	for range 5 {
		if perr = db.Ping(pctx); errors.Is(perr, persist.ErrUnavailable) {
			break
		}
	}
	if !errors.Is(perr, persist.ErrUnavailable) {
		t.Errorf("Ping err=%v, want ErrUnavailable", perr)
	}
	wantConnError(t, perr, c.password)
	c.run(t, "pg_ctl", "-D", c.dir+"/data", "-l", c.dir+"/log", "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, c.dir), "start")
}
