// Package sqlite is the SQLite backend of persist, on modernc.org/sqlite
// (pure Go, no cgo).
//
// Importing it registers the "sqlite" and "file" URL schemes with
// [persist.Open]:
//
//	sqlite:///relative/path.db    sqlite:////absolute/path.db
//	file:path.db                  file:///absolute/path.db
//	sqlite://:memory:             sqlite::memory:
//
// The only query parameters accepted are busy_timeout (milliseconds or a Go
// duration such as "5s"), max_readers and mode=ro; anything else is
// [persist.ErrInvalid], so a typo never silently changes behaviour.
//
// # Configuration
//
// [Open] takes such a URL or a plain file path. To configure in code, as
// the postgres backend and pgxpool do: [ParseConfig] reads the URL into a
// [Config], your code changes it, and [OpenConfig] opens it; what the
// Config holds then wins over what the URL said:
//
//	cfg, err := sqlite.ParseConfig("sqlite:///data/app.db?busy_timeout=2s")
//	if err != nil {
//		return err
//	}
//	cfg.MaxReaders = 8
//	db, err := sqlite.OpenConfig(ctx, cfg)
//
// [DB.Store] does no I/O. A table is created, or upgraded from the earlier
// portal layout, by the first operation that uses it, under that
// operation's context.
//
// # Read-only
//
// mode=ro, or [Config.ReadOnly], opens an existing file without writing
// to it: no metadata table, no WAL switch, no upgrade. A table in the
// earlier portal layout is then read as it is, through a subquery that
// supplies what an upgrade would add (rowid order, revision 1, the open
// time). Every write is [persist.ErrInvalid]. persist-migrate opens a
// SQLite source this way.
//
// # Connections
//
// A DB holds one writer connection, whose transactions start with BEGIN
// IMMEDIATE so that writers queue on the lock instead of failing on
// upgrade, and a pool of read-only connections. Files run in WAL mode
// with synchronous=NORMAL, so readers never block the writer. A new file
// and its directory are created with owner-only permissions (0600 and
// 0700).
//
// ":memory:" is an in-memory database shared by all of the handle's
// connections and freed by [DB.Close]. It uses SQLite's memdb VFS, which has
// no WAL: a reader briefly blocks the writer's commit and the reverse, which
// the busy timeout absorbs.
//
// # Iteration
//
// List and Query read in pages of a few hundred rows and hold no connection
// or lock while the caller's loop body runs, so a loop may write to the
// table it ranges over. A listing therefore is not one snapshot: records
// added at the end during the loop may be seen, and records deleted ahead
// of the cursor are not.
//
// # Transactions
//
// [DB.Tx] runs on the writer connection. Inside fn, use only the stores
// that tx.Store returns: a store from [DB.Store] writes through the same
// single writer connection and would wait for the transaction to end.
package sqlite
