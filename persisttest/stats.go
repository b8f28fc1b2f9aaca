package persisttest

import (
	"encoding/json"
	"testing"

	"github.com/persistkit/persist"
)

// testPoolStats states [persist.PoolStater]'s contract, for a DB that
// implements it.
func testPoolStats(t *testing.T, open openFunc) {
	db, s := openStore(t, open, "pools")
	ps, ok := db.(persist.PoolStater)
	if !ok {
		t.Skip("DB does not implement persist.PoolStater")
	}
	ctx := t.Context()
	mustPut(t, s, "a", `{"n":1}`)
	mustPut(t, s, "b", `{"n":2}`)
	valid := func(t *testing.T, when string) []persist.PoolStats {
		t.Helper()
		pools := ps.PoolStats()
		if len(pools) == 0 {
			t.Fatalf("%s: no pools", when)
		}
		seen := map[string]bool{}
		for _, p := range pools {
			if p.Pool == "" || seen[p.Pool] {
				t.Errorf("%s: pool name %q empty or repeated", when, p.Pool)
			}
			seen[p.Pool] = true
			if p.MaxOpen < 1 || p.InUse < 0 || p.Idle < 0 || p.InUse+p.Idle > p.Open || p.Open > p.MaxOpen || p.Waits < 0 || p.WaitTime < 0 {
				t.Errorf("%s: %+v, want 0 <= InUse+Idle <= Open <= MaxOpen, MaxOpen >= 1, Waits and WaitTime >= 0", when, p)
			}
		}
		return pools
	}
	inUse := func(pools []persist.PoolStats) int {
		n := 0
		for _, p := range pools {
			n += p.InUse
		}
		return n
	}
	if n := inUse(valid(t, "idle")); n != 0 {
		t.Errorf("idle: %d connections in use, want 0", n)
	}
	// A transaction holds a connection until it ends.
	err := db.Tx(ctx, func(tx persist.Tx) error {
		ts, err := tx.Store("pools")
		if err != nil {
			return err
		}
		if _, err := ts.Put(ctx, persist.Record{ID: "c", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if n := inUse(valid(t, "in a transaction")); n < 1 {
			t.Errorf("in a transaction: %d connections in use, want at least 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A listing left early releases what it held.
	for range s.List(ctx, nil) {
		break
	}
	if n := inUse(valid(t, "after a listing left early")); n != 0 {
		t.Errorf("after a listing left early: %d connections in use, want 0", n)
	}
	db.Close()
	_ = ps.PoolStats() // works after Close
}
