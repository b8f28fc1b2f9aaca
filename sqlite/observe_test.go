package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

// ends keeps the operations an Observer saw end.
type ends struct {
	mu  sync.Mutex
	ops []persist.Operation
}

func (e *ends) Start(ctx context.Context, _ *persist.Operation) context.Context { return ctx }
func (e *ends) End(_ context.Context, op *persist.Operation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ops = append(e.ops, *op)
}

// A write that meets another process's write lock is retried, and the
// observer sees each retry with its reason, busy.
func TestObserverRetriesBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	obs := &ends{}
	cfg, err := sqlite.ParseConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BusyTimeout = time.Millisecond
	cfg.Observer = obs
	cfg.Retry = &persist.RetryPolicy{MaxAttempts: 100, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
	db, err := sqlite.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Store("t")
	if _, err := s.Count(t.Context()); err != nil { // creates the table
		t.Fatal(err)
	}
	other, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- other.Tx(t.Context(), func(persist.Tx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	if _, err := s.Put(t.Context(), persist.Record{ID: "a", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	op := obs.ops[len(obs.ops)-1]
	if op.Name != "put" || op.Err != nil || op.Attempts < 2 || len(op.Retries) != op.Attempts-1 {
		t.Fatalf("observed %q err %v attempts %d retries %v, want a put that succeeded after retries", op.Name, op.Err, op.Attempts, op.Retries)
	}
	for _, r := range op.Retries {
		if r != "busy" {
			t.Errorf("retry reason %q, want busy", r)
		}
	}
}
