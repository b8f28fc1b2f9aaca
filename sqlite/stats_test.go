package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/persistkit/persist/sqlite"
)

func TestStats(t *testing.T) {
	cfg, err := sqlite.ParseConfig(filepath.Join(t.TempDir(), "stats.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxReaders = 3
	db, err := sqlite.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.Stats()
	if s.Writer.MaxOpenConnections != 1 || s.Readers.MaxOpenConnections != 3 {
		t.Errorf("writer max %d, readers max %d, want 1 and 3", s.Writer.MaxOpenConnections, s.Readers.MaxOpenConnections)
	}
	pools := db.PoolStats()
	if len(pools) != 2 || pools[0].Pool != "writer" || pools[0].MaxOpen != 1 || pools[1].Pool != "readers" || pools[1].MaxOpen != 3 {
		t.Errorf("PoolStats()=%+v, want writer of 1 and readers of 3", pools)
	}
}
