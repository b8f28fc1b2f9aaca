package sqlite

import (
	"database/sql"

	"github.com/persistkit/persist"
)

var _ persist.PoolStater = (*DB)(nil)

// Stats are the figures of a DB's two database/sql pools: the writer, of
// one connection, and the readers, of [Config.MaxReaders].
type Stats struct {
	Writer  sql.DBStats
	Readers sql.DBStats
}

// Stats returns the current figures of the DB's pools. It does no I/O and
// works after Close.
func (db *DB) Stats() Stats {
	var s Stats
	if db.writer != nil {
		s.Writer = db.writer.Stats()
	}
	if db.readers != nil {
		s.Readers = db.readers.Stats()
	}
	return s
}

// PoolStats reports the writer pool and the reader pool, in that order.
func (db *DB) PoolStats() []persist.PoolStats {
	s := db.Stats()
	return []persist.PoolStats{poolStats("writer", s.Writer), poolStats("readers", s.Readers)}
}

func poolStats(name string, s sql.DBStats) persist.PoolStats {
	return persist.PoolStats{
		Pool: name, MaxOpen: s.MaxOpenConnections,
		Open: s.OpenConnections, InUse: s.InUse, Idle: s.Idle,
		Waits: s.WaitCount, WaitTime: s.WaitDuration,
	}
}
