package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"

	"github.com/persistkit/persist/internal/ident"
)

// table holds one table's SQL, built once, and the statements prepared for
// the hot paths. Statements on a *sql.DB are prepared once per physical
// connection and then reused.
//
// A DB's table is made by [DB.Store] without I/O, and filled in by
// [DB.ensure] on first use; until ready is set only name may be read.
type table struct {
	name string

	// ready is set once the table exists in the current layout and
	// tableSQL holds its statements; known, once a transaction that
	// created it has committed, so later transactions need not check.
	ready, known atomic.Bool

	tableSQL

	txOnly atomic.Pointer[table] // see forTx

	mu    sync.Mutex
	pages map[string]*sql.Stmt // list and query pages, by SQL text
}

// tableSQL is what [DB.ensure] installs into a DB's table.
type tableSQL struct {
	from string // what reads select from: the quoted name, or a subquery

	get, getSeq, put, putRev, insert, insertKeep, update, del, count, clear string

	getMany, getRev string // Batcher

	// Prepared statements; nil for a table created inside a transaction
	// that has not committed, whose stores run only inside it.
	getR, putS, putRevS, insertS, delS *sql.Stmt
}

// maxCachedPages bounds the per-table cache of list and query statements;
// filters with many different key sets would otherwise grow it forever.
const maxCachedPages = 64

// nextSeq gives a new record the next insertion-order number. The writer
// is the only connection that writes, so nothing can take the number
// between this subquery and the insert; the unique index catches any
// other process writing to the same file.
func nextSeq(q string) string { return `(SELECT COALESCE(MAX(seq), 0) + 1 FROM ` + q + `)` }

// newTable builds name's SQL; reads select from from when it is not empty
// (a read-only view of a table in the earlier layout).
func newTable(name, from string) *table {
	q := ident.Quote(name)
	if from == "" {
		from = q
	}
	return &table{name: name, pages: map[string]*sql.Stmt{}, tableSQL: tableSQL{
		from:   from,
		get:    `SELECT data, revision, created_at, updated_at FROM ` + from + ` WHERE id = ?`,
		getSeq: `SELECT seq FROM ` + from + ` WHERE id = ?`,
		getMany: `SELECT id, data, revision, created_at, updated_at FROM ` + from +
			` WHERE id IN (SELECT value FROM json_each(?))`,
		getRev: `SELECT revision FROM ` + from + ` WHERE id = ?`,
		put: `INSERT INTO ` + q + ` (id, data, seq, revision, created_at, updated_at)
VALUES (?1, ?2, ` + nextSeq(q) + `, 1, ?3, ?3)
ON CONFLICT (id) DO UPDATE SET data = excluded.data, revision = revision + 1, updated_at = excluded.updated_at
RETURNING revision, created_at`,
		putRev: `UPDATE ` + q + ` SET data = ?1, revision = revision + 1, updated_at = ?2
WHERE id = ?3 AND revision = ?4
RETURNING revision, created_at`,
		insert: `INSERT INTO ` + q + ` (id, data, seq, revision, created_at, updated_at)
VALUES (?1, ?2, ` + nextSeq(q) + `, 1, ?3, ?3)
ON CONFLICT (id) DO NOTHING
RETURNING revision, created_at`,
		insertKeep: `INSERT INTO ` + q + ` (id, data, seq, revision, created_at, updated_at)
VALUES (?1, ?2, ` + nextSeq(q) + `, ?3, ?4, ?5)
ON CONFLICT (id) DO NOTHING`,
		update: `UPDATE ` + q + ` SET data = ?1, revision = revision + 1, updated_at = ?2 WHERE id = ?3
RETURNING revision, created_at`,
		del:   `DELETE FROM ` + q + ` WHERE id = ?`,
		count: `SELECT COUNT(*) FROM ` + from,
		clear: `DELETE FROM ` + q,
	}}
}

// forTx returns the table for transactions to use while t is not ready:
// its SQL without prepared statements, made once per DB, since
// statements cannot be prepared while a transaction holds the writer.
func (t *table) forTx() *table {
	if x := t.txOnly.Load(); x != nil {
		return x
	}
	x := newTable(t.name, "")
	x.pages = nil
	t.txOnly.CompareAndSwap(nil, x)
	return t.txOnly.Load()
}

// prepare prepares the hot statements: reads on the reader pool, writes
// (and reads inside read-modify-write) on the writer.
func (t *table) prepare(ctx context.Context, db *DB) error {
	var err error
	p := func(on *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = on.PrepareContext(ctx, q)
		return s
	}
	t.getR = p(db.readers, t.get)
	if db.readOnly {
		return err // writes are refused before they need a statement
	}
	t.putS = p(db.writer, t.put)
	t.putRevS = p(db.writer, t.putRev)
	t.insertS = p(db.writer, t.insert)
	t.delS = p(db.writer, t.del)
	return err
}

// pageStmt returns the prepared statement for a list or query page,
// preparing and caching it on first use.
func (t *table) pageStmt(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.pages[q]; s != nil {
		return s, true, nil
	}
	s, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, false, err
	}
	if t.pages == nil || len(t.pages) >= maxCachedPages {
		return s, false, nil // caller closes it
	}
	t.pages[q] = s
	return s, true, nil
}

func (t *table) close() {
	for _, s := range []*sql.Stmt{t.getR, t.putS, t.putRevS, t.insertS, t.delS} {
		if s != nil {
			s.Close()
		}
	}
	t.mu.Lock()
	for _, s := range t.pages {
		s.Close()
	}
	t.pages = nil
	t.mu.Unlock()
}
