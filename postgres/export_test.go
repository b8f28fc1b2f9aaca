package postgres

import (
	"context"
	"time"

	"github.com/persistkit/persist/internal/ident"
)

// Hooks for the black-box tests and benchmarks.

// SetTokenClock replaces the clock the token cache uses.
func SetTokenClock(db *DB, now func() time.Time) { db.tokens.now.Store(&now) }

// TokenFetches returns how many times the credential was asked for a token.
func TokenFetches(db *DB) int64 { return db.tokens.fetches.Load() }

// ResetPool closes every pooled connection, so the next operations connect
// anew.
func ResetPool(db *DB) { db.pool.Reset() }

// GINIndexName is the name of the GIN index on table.
func GINIndexName(table string) string { return objectName(table, "gin") }

// Loading reports whether InsertMany on s writes with COPY, as it does
// while a bulk load of the empty table is open.
func Loading(s *Store) bool { return s.tx == nil && s.t.loads.Load() > 0 }

// QuerySQL is the statement Query runs for one page.
func QuerySQL(s *Store) string { return s.t.sqlQuery }

// ListSQL, GetSQL, PutSQL and InsertManySQL are the statements of List,
// Get, Put without a revision and InsertMany.
func ListSQL(s *Store) string       { return s.t.sqlList }
func GetSQL(s *Store) string        { return s.t.sqlGet }
func PutSQL(s *Store) string        { return s.t.sqlPutUpsert }
func InsertManySQL(s *Store) string { return s.t.sqlInsertMany }

// MaxConns is the pool's connection limit.
func MaxConns(db *DB) int32 { return db.maxConns }

// QualifiedName is the store's schema-qualified, quoted table name.
func QualifiedName(s *Store) string { return s.t.qname }

// GetManySQL is the statement GetMany runs for ids, locking or not.
func GetManySQL(s *Store, ids []string, lock bool) string {
	if len(ids) <= maxListed {
		return s.t.listed("SELECT id, data, revision, created_at, updated_at", ids, lock)
	}
	if lock {
		return s.t.batch.lockMany
	}
	return s.t.batch.getMany
}

// dropTrigger removes the revision trigger from table, as the previous
// layout had it, for benchmarks that compare the two.
func dropTrigger(ctx context.Context, db *DB, table string) error {
	_, err := db.pool.Exec(ctx, "DROP TRIGGER "+revisionTrigger+" ON "+ident.Quote(db.schema)+"."+ident.Quote(table))
	return err
}

// DropTrigger is dropTrigger for the black-box benchmarks.
var DropTrigger = dropTrigger
