package persist

import "time"

// PoolStats is the state of one of a DB's connection pools, in figures
// every backend can give. A backend's own Stats method gives its driver's
// full figures.
type PoolStats struct {
	// Pool names the pool within its DB: "pool" for PostgreSQL's one
	// pgxpool, "writer" and "readers" for SQLite's.
	Pool string

	// MaxOpen is the most connections the pool opens.
	MaxOpen int

	// Open counts the connections open or being opened; InUse those
	// handed out, Idle those waiting in the pool. InUse+Idle <= Open <=
	// MaxOpen.
	Open, InUse, Idle int

	// Waits counts, since the DB was opened, the times a caller had to
	// wait for a connection, and WaitTime is their total wait.
	Waits    int64
	WaitTime time.Duration
}

// PoolStater is implemented by a DB that reports its connection pools;
// both backends of this module do. Package otelpersist exports the
// figures as metrics.
type PoolStater interface {
	// PoolStats returns the current state of each of the DB's pools, in
	// a fixed order. It does no I/O and works after Close.
	PoolStats() []PoolStats
}
