package sqlite

import (
	"context"

	"sync"

	"github.com/persistkit/persist"
)

var _ persist.WriteMarker = (*DB)(nil)

// MarkWrites marks the present (see [persist.WriteMarker]) with PRAGMA
// data_version, which SQLite changes, for a connection, whenever another
// connection, in this process or another, commits to the file. The mark
// holds one reader connection until it is released, so that both readings
// come from the same connection.
func (db *DB) MarkWrites(ctx context.Context) (changed func(context.Context) (bool, error), release func(), err error) {
	const op = "mark_writes"
	if err := db.check(ctx, op); err != nil {
		return nil, nil, err
	}
	conn, err := db.readers.Conn(ctx)
	if err != nil {
		return nil, nil, db.wrap(ctx, op, "", "", err)
	}
	version := func(ctx context.Context) (int64, error) {
		var v int64
		err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
		return v, err
	}
	first, err := version(ctx)
	if err != nil {
		conn.Close()
		return nil, nil, db.wrap(ctx, op, "", "", err)
	}
	var mu sync.Mutex // a sql.Conn runs one statement at a time
	changed = func(ctx context.Context) (bool, error) {
		if err := db.check(ctx, op); err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		v, err := version(ctx)
		if err != nil {
			return false, db.wrap(ctx, op, "", "", err)
		}
		return v != first, nil
	}
	var once sync.Once
	release = func() { once.Do(func() { conn.Close() }) }
	return changed, release, nil
}
