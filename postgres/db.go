package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/changefeed"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/observe"
	"github.com/persistkit/persist/internal/retry"
)

// DB is a PostgreSQL database holding persist tables. It is safe for
// concurrent use; open it once and share it.
type DB struct {
	pool     *pgxpool.Pool
	url      string // redacted
	log      *slog.Logger
	retry    persist.RetryPolicy
	schema   string
	password string // from the URL or environment, only to scrub messages
	tokens   *tokenSource
	maxConns int32

	// queryIndex says whether tables get the GIN index on data (see
	// Config.QueryIndex).
	queryIndex bool

	// idField is Config.IDField: the document field that holds the id.
	idField string

	closed    atomic.Bool
	closeOnce sync.Once

	mu     sync.Mutex
	tables map[string]*table
	meta   string // quoted schema.persist_meta

	applySQL sync.Map // Apply's statement by its tables' names, comma-separated

	feedHub changefeed.Hub // wakes change feed followers (feed.go)

	obs observe.Hook // Config.Observer
}

var _ persist.DB = (*DB)(nil)

// init resolves the schema and creates persist_meta. Its queries are the
// first to connect, so they report an unreachable server.
func (db *DB) init(ctx context.Context, schema string) error {
	if schema == "" {
		err := retry.Do(ctx, db.retry, db.log, "open", func(ctx context.Context) error {
			var cur *string
			if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
				return db.mapError(ctx, "open", "", "", err, true)
			}
			if cur == nil {
				return &persist.Error{Op: "open", Err: fmt.Errorf("%w: no schema on the search_path exists", persist.ErrInvalid)}
			}
			schema = *cur
			return nil
		})
		if err != nil {
			return err
		}
	}
	db.schema = schema
	db.meta = ident.Quote(schema) + ".persist_meta"
	return retry.Do(ctx, db.retry, db.log, "open", func(ctx context.Context) error {
		return db.mapError(ctx, "open", "", "", db.createMeta(ctx), true)
	})
}

// Schema returns the schema that holds the tables.
func (db *DB) Schema() string { return db.schema }

// Store returns the named table. The table is created, or upgraded from the
// earlier two-column layout, by the first operation that uses it, under
// that operation's context. An invalid name is [persist.ErrInvalid].
func (db *DB) Store(name string) (persist.Store, error) {
	s, err := db.store(name, nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (db *DB) store(name string, tx *txState) (*Store, error) {
	if db.closed.Load() {
		return nil, &persist.Error{Op: "store", Table: name, Err: persist.ErrClosed}
	}
	if err := ident.Table(name); err != nil {
		return nil, &persist.Error{Op: "store", Err: fmt.Errorf("%w: %w", persist.ErrInvalid, err)}
	}
	db.mu.Lock()
	t := db.tables[name]
	if t == nil {
		t = newTable(db.schema, name)
		db.tables[name] = t
	}
	db.mu.Unlock()
	return &Store{db: db, t: t, tx: tx}, nil
}

// Tables lists the persist tables in the schema, sorted: those recorded in
// persist_meta and tables in the earlier two-column layout. A table a Store
// was obtained for is listed once an operation has used it.
func (db *DB) Tables(ctx context.Context) (_ []string, err error) {
	ctx, op := db.obs.Start(ctx, "tables", "", 0)
	defer op.End(&err)
	if db.closed.Load() {
		return nil, &persist.Error{Op: "tables", Err: persist.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return nil, &persist.Error{Op: "tables", Err: err}
	}
	var names []string
	err = retry.Do(ctx, db.retry, db.log, "tables", func(ctx context.Context) error {
		names = names[:0]
		rows, err := db.pool.Query(ctx, tablesSQL(db.meta), db.schema)
		if err != nil {
			return db.mapError(ctx, "tables", "", "", err, true)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return db.mapError(ctx, "tables", "", "", err, true)
			}
			if ident.Table(n) == nil {
				names = append(names, n)
			}
		}
		return db.mapError(ctx, "tables", "", "", rows.Err(), true)
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// Ping checks that the database is reachable and accepts the credentials.
func (db *DB) Ping(ctx context.Context) (err error) {
	ctx, op := db.obs.Start(ctx, "ping", "", 0)
	defer op.End(&err)
	if db.closed.Load() {
		return &persist.Error{Op: "ping", Err: persist.ErrClosed}
	}
	return retry.Do(ctx, db.retry, db.log, "ping", func(ctx context.Context) error {
		return db.mapError(ctx, "ping", "", "", db.pool.Ping(ctx), true)
	})
}

// Close waits for connections in use to be released, closes the pool and
// drops the token credential. It is idempotent; afterwards every method
// returns [persist.ErrClosed].
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closed.Store(true)
		db.pool.Close()
		if db.tokens != nil {
			db.tokens.release()
		}
	})
	return nil
}

// run executes fn under the retry policy. fn returns driver errors or
// errors this package built; run maps them. safe says whether fn may be
// repeated after a lost connection (see mapError).
//
// A lost connection is retried at once on another connection, up to
// MaxConns times, without spending an attempt of the policy: each failure
// destroys one dead connection, so the pool soon holds only live ones or
// opens a new one, as pgxpool's Acquire does for the same reason. Before
// the first such retry the idle connections are pinged, since whatever
// killed one (a failover, a restart, an administrator) usually killed the
// others too.
func (db *DB) run(ctx context.Context, op, table, id string, safe bool, fn func(ctx context.Context) error) error {
	if db.closed.Load() {
		return &persist.Error{Op: op, Table: table, ID: id, Err: persist.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &persist.Error{Op: op, Table: table, ID: id, Err: err}
	}
	return retry.Do(ctx, db.retry, db.log, op, func(ctx context.Context) error {
		return db.reconnecting(ctx, op, func(ctx context.Context) error {
			err := fn(ctx)
			if err == nil {
				return nil
			}
			return db.mapError(ctx, op, table, id, err, safe)
		})
	})
}

// reconnecting runs fn again while it fails with a lost connection that is
// safe to retry (marked transient), up to the pool size.
func (db *DB) reconnecting(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	limit := int(db.maxConns)
	for lost := 0; ; lost++ {
		err := fn(ctx)
		if err == nil || lost >= limit || !connLost(err) || !persist.IsTransient(err) || ctx.Err() != nil || db.closed.Load() {
			return err
		}
		if lost == 0 {
			db.sweep(ctx)
		}
		observe.Retry(ctx, err)
		db.log.LogAttrs(ctx, slog.LevelDebug, "persist: connection lost; retrying on another connection",
			slog.String("op", op), slog.String("error", err.Error()))
	}
}

// sweep pings every idle connection and drops those that fail.
func (db *DB) sweep(ctx context.Context) {
	for _, c := range db.pool.AcquireAllIdle(ctx) {
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		if err := c.Conn().PgConn().Ping(pctx); err != nil {
			c.Conn().PgConn().Close(pctx) //nolint:errcheck // already broken
		}
		cancel()
		c.Release()
	}
}
