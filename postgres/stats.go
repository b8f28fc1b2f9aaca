package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/persistkit/persist"
)

var _ persist.PoolStater = (*DB)(nil)

// Stats returns pgxpool's figures for the DB's pool: connections open,
// acquired, idle and being opened, acquisitions and their wait, and
// connections closed by age or idleness. It does no I/O and works after
// Close.
func (db *DB) Stats() *pgxpool.Stat { return db.pool.Stat() }

// PoolStats reports the DB's one pool, named "pool". Waits and WaitTime are
// pgxpool's acquisitions that found no idle connection and their total
// wait.
func (db *DB) PoolStats() []persist.PoolStats {
	s := db.pool.Stat()
	return []persist.PoolStats{{
		Pool: "pool", MaxOpen: int(s.MaxConns()),
		Open: int(s.TotalConns()), InUse: int(s.AcquiredConns()), Idle: int(s.IdleConns()),
		Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime(),
	}}
}
