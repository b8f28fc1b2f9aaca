package postgres

import "context"

// MapStatementError runs sql on db's pool and returns its error as a Store
// method would, so that tests can check the mapping of real server errors.
func MapStatementError(ctx context.Context, db *DB, sql string) error {
	_, err := db.pool.Exec(ctx, sql)
	return db.mapError(ctx, "test", "t", "", err, true)
}

// ObjectName and LegacyObjectName name an object of a table with suffix,
// now and as earlier versions did.
func ObjectName(table, suffix string) string       { return objectName(table, suffix) }
func LegacyObjectName(table, suffix string) string { return legacyObjectName(table, suffix) }
