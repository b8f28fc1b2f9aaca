package postgres_test

import (
	"testing"

	"github.com/persistkit/persist/postgres"
)

func TestStats(t *testing.T) {
	db, err := openWith(t.Context(), withSearchPath(t, newSchema(t), nil), func(c *postgres.Config) { c.Pool.MaxConns = 3 })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Stats().MaxConns(); got != 3 {
		t.Errorf("Stats().MaxConns()=%d, want 3", got)
	}
	pools := db.PoolStats()
	if len(pools) != 1 || pools[0].Pool != "pool" || pools[0].MaxOpen != 3 || pools[0].Open < 1 {
		t.Errorf("PoolStats()=%+v, want one pool of 3 with a connection open", pools)
	}
}
