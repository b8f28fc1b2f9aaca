package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/changefeed"
	"github.com/persistkit/persist/internal/check"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/observe"
	msqlite "modernc.org/sqlite"
)

// DB is a SQLite database: one writer connection and a pool of readers.
// It implements [persist.DB] and is safe for concurrent use.
type DB struct {
	path    string // "" for an in-memory database
	writer  *sql.DB
	readers *sql.DB
	keeper  driver.Conn // holds an in-memory database alive; nil for files

	log      *slog.Logger
	policy   persist.RetryPolicy
	closed   atomic.Bool
	readOnly bool
	// idField is Config.IDField: the document field that holds the id.
	idField  string
	openedAt int64 // Unix microseconds; read-only legacy tables' times

	mu       sync.RWMutex
	stores   map[string]*Store // one per name, made by Store; see table.ready
	ensureMu sync.Mutex        // serializes ensure: schema changes and statements

	feedHub changefeed.Hub // wakes change feed followers (feed.go)

	obs observe.Hook // Config.Observer
}

var (
	_ persist.DB    = (*DB)(nil)
	_ persist.Store = (*Store)(nil)
	_ persist.Tx    = (*tx)(nil)
)

// OpenConfig opens the database cfg describes. cfg is not changed and may
// be used again; its zero fields mean their defaults.
//
// OpenConfig fails with [persist.ErrInvalid] for a Config that cannot work
// (nil, no Path, a negative BusyTimeout or MaxReaders, an in-memory
// database read-only), a [*persist.ConnError] when the file cannot be
// created or opened, and a [*persist.Error] when the file is not a usable
// database.
func OpenConfig(ctx context.Context, cfg *Config) (*DB, error) {
	if cfg == nil {
		return nil, errInvalid("open", "", "", "nil Config; get one from ParseConfig")
	}
	c := *cfg
	c.defaults()
	switch {
	case c.Path == "":
		return nil, errInvalid("open", "", "", "no database path")
	case strings.ContainsRune(c.Path, 0):
		return nil, errInvalid("open", "", "", "path contains NUL")
	case c.BusyTimeout < 0:
		return nil, errInvalid("open", "", "", "BusyTimeout %v is negative", c.BusyTimeout)
	case c.MaxReaders < 0:
		return nil, errInvalid("open", "", "", "MaxReaders %d is negative", c.MaxReaders)
	case c.ReadOnly && c.Path == MemoryPath:
		return nil, errInvalid("open", "", "", "an in-memory database cannot be opened read-only")
	}
	if c.IDField != "" {
		if err := check.IDField(c.IDField); err != nil {
			return nil, errInvalid("open", "", "", "%v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, &persist.Error{Op: "open", Err: err}
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := registerFunctions(); err != nil {
		return nil, &persist.Error{Op: "open", Err: err}
	}
	db := &DB{
		log:      log,
		policy:   c.Retry.WithDefaults(),
		stores:   map[string]*Store{},
		readOnly: c.ReadOnly,
		idField:  c.IDField,
		openedAt: time.Now().UnixMicro(),
	}
	if c.Path != MemoryPath {
		db.path = c.Path
	}
	db.obs = observe.New(c.Observer, "sqlite", db.path, "", 0)
	if err := db.connect(ctx, &c); err != nil {
		return nil, err
	}
	log.LogAttrs(ctx, slog.LevelInfo, "persist: sqlite database opened",
		slog.String("path", db.where()), slog.Int("max_readers", c.MaxReaders))
	return db, nil
}

// connect opens the file (creating it with owner-only permissions), the
// writer and the reader pool, and the metadata table.
func (db *DB) connect(ctx context.Context, c *Config) (err error) {
	var base string
	created := false
	memory := c.Path == MemoryPath
	switch {
	case db.readOnly:
		// mode=ro: SQLite neither creates the file nor writes to it.
		if _, err := os.Stat(c.Path); err != nil {
			return &persist.ConnError{Op: "open", URL: c.Path, Err: err}
		}
		base = "file:" + escapePath(c.Path) + "?mode=ro"
	case memory:
		// memdb names starting with '/' are shared by every connection of
		// the process that opens them; the unique name keeps handles apart.
		base = "file:/persist-mem-" + ident.NewID() + "?vfs=memdb"
	default:
		if created, err = createFile(c.Path); err != nil {
			return &persist.ConnError{Op: "open", URL: c.Path, Err: err}
		}
		base = "file:" + escapePath(c.Path) + "?"
	}
	pragmas := fmt.Sprintf("&_pragma=busy_timeout(%d)", c.BusyTimeout.Milliseconds())
	if !memory && !db.readOnly {
		pragmas += "&_pragma=journal_mode(WAL)"
	}
	pragmas += "&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"

	defer func() {
		if err != nil {
			db.closeConns()
		}
	}()
	openErr := func(err error) error {
		if isUnavailable(err) {
			return &persist.ConnError{Op: "open", URL: db.where(), Err: err}
		}
		return &persist.Error{Op: "open", Err: err}
	}

	if memory {
		conn, err := msqlite.NewConnector(base + pragmas)
		if err != nil {
			return openErr(err)
		}
		if db.keeper, err = conn.Connect(ctx); err != nil {
			return openErr(err)
		}
	}

	db.writer, _ = sql.Open("sqlite", base+"&_txlock=immediate"+pragmas)
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	// Read-only, the writer never connects: every write is refused
	// before it reaches SQLite, and the file is mode=ro besides.
	if !db.readOnly {
		if _, err := db.writer.ExecContext(ctx, createMeta); err != nil {
			return openErr(err)
		}
	}
	if created {
		if err := chmodFiles(c.Path); err != nil {
			return &persist.ConnError{Op: "open", URL: c.Path, Err: err}
		}
	}

	db.readers, _ = sql.Open("sqlite", base+pragmas+"&_pragma=query_only(1)")
	db.readers.SetMaxOpenConns(c.MaxReaders)
	db.readers.SetMaxIdleConns(c.MaxReaders)
	db.readers.SetConnMaxLifetime(0)
	db.readers.SetConnMaxIdleTime(0)
	if err := db.readers.PingContext(ctx); err != nil {
		return openErr(err)
	}
	return nil
}

// where names the database in errors and logs.
func (db *DB) where() string {
	if db.path == "" {
		return MemoryPath
	}
	return db.path
}

// Store returns the named table. It does no I/O: the table is created, or
// upgraded in place from the earlier portal layout, by the first operation
// that uses it, under that operation's context. Names must satisfy
// [ident.Table]; others are [persist.ErrInvalid].
func (db *DB) Store(name string) (persist.Store, error) {
	s, err := db.store(name)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// store returns the DB's one Store for name, making it on first call.
func (db *DB) store(name string) (*Store, error) {
	if db.closed.Load() {
		return nil, errClosed("store", name, "")
	}
	if err := ident.Table(name); err != nil {
		return nil, errInvalid("store", "", "", "%v", err)
	}
	db.mu.RLock()
	s := db.stores[name]
	db.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if s = db.stores[name]; s == nil {
		s = &Store{db: db, t: newTable(name, "")}
		db.stores[name] = s
	}
	return s, nil
}

// ensure creates or upgrades s's table and prepares its statements, once
// per DB, under the context of the first operation that uses it, so that
// later operations never check the schema. Errors are mapped for op.
func (db *DB) ensure(ctx context.Context, op string, s *Store) error {
	if s.tx != nil || s.t.ready.Load() {
		return nil
	}
	db.ensureMu.Lock()
	defer db.ensureMu.Unlock()
	if s.t.ready.Load() {
		return nil
	}
	name := s.t.name
	if db.readOnly {
		_, err := db.ensureReadOnly(ctx, name)
		return err
	}
	err := db.retry(ctx, op, func(ctx context.Context) error {
		tx, err := db.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		if err := ensureSchema(ctx, tx, name, db.log); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return db.wrap(ctx, op, name, "", err)
	}
	_, err = db.add(ctx, newTable(name, ""))
	return err
}

// add prepares t's statements and installs them in the DB's store of
// that name, which is then ready. Callers hold ensureMu.
func (db *DB) add(ctx context.Context, t *table) (*Store, error) {
	name := t.name
	if err := t.prepare(ctx, db); err != nil {
		t.close()
		return nil, db.wrap(ctx, "store", name, "", err)
	}
	s, err := db.store(name)
	if err != nil {
		t.close()
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed.Load() {
		// Close has closed the statements it knew of; these are new.
		t.close()
		return nil, errClosed("store", name, "")
	}
	s.t.tableSQL = t.tableSQL
	s.t.ready.Store(true)
	return s, nil
}

// Tables lists the persist tables and the tables in the old portal layout
// (id and data only), sorted by name. A table a Store was obtained for is
// listed once an operation has used it.
func (db *DB) Tables(ctx context.Context) (_ []string, err error) {
	ctx, op := db.obs.Start(ctx, "tables", "", 0)
	defer op.End(&err)
	if err := db.check(ctx, "tables"); err != nil {
		return nil, err
	}
	var names []string
	err = db.retry(ctx, "tables", func(ctx context.Context) error {
		names = names[:0]
		q := listTables
		if db.readOnly {
			// A file never opened writable has no persist_meta.
			var n int
			if err := db.readers.QueryRowContext(ctx, hasMeta).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				q = listLegacyTables
			}
		}
		rows, err := db.readers.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			if ident.Table(n) == nil {
				names = append(names, n)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.wrap(ctx, "tables", "", "", err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Ping checks that the database file can still be read.
func (db *DB) Ping(ctx context.Context) (err error) {
	ctx, op := db.obs.Start(ctx, "ping", "", 0)
	defer op.End(&err)
	if err := db.check(ctx, "ping"); err != nil {
		return err
	}
	err = db.retry(ctx, "ping", func(ctx context.Context) error {
		var one int
		q := "SELECT 1 FROM persist_meta LIMIT 1"
		if db.readOnly {
			q = "SELECT 1 FROM sqlite_schema LIMIT 1" // persist_meta may be missing
		}
		return db.readers.QueryRowContext(ctx, q).Scan(&one)
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		if ctx.Err() != nil || db.closed.Load() {
			return db.wrap(ctx, "ping", "", "", err)
		}
		return &persist.ConnError{Op: "ping", URL: db.where(), Err: db.mapErr(ctx, err)}
	}
	return nil
}

// Close closes every connection. It is idempotent; afterwards every method
// of the DB and its stores returns [persist.ErrClosed]. In-memory
// databases are freed.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return nil
	}
	db.mu.Lock()
	for _, s := range db.stores {
		s.t.close()
	}
	db.mu.Unlock()
	if err := db.closeConns(); err != nil {
		return &persist.Error{Op: "close", Err: err}
	}
	db.log.LogAttrs(context.Background(), slog.LevelInfo, "persist: sqlite database closed", slog.String("path", db.where()))
	return nil
}

func (db *DB) closeConns() error {
	var errs []error
	if db.readers != nil {
		errs = append(errs, db.readers.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if db.keeper != nil {
		errs = append(errs, db.keeper.Close())
	}
	return errors.Join(errs...)
}

// check is the entry test of every DB-level operation.
func (db *DB) check(ctx context.Context, op string) error {
	return check.Enter(ctx, db.closed.Load(), op, "", "")
}
