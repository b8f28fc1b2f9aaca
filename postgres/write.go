package postgres

import "time"

// The write rule: what storing a record's data does to its row. Every
// statement that writes data, in newTable, newBatchSQL, putListed and
// buildApplySQL, builds its parts from here, so the rule is spelled once.
// A new row starts at revision 1 (the column's default) with created_at
// and updated_at both the time of the write; a stored row takes the new
// data, its revision plus one and the time of the write as updated_at.
//
// The time is a parameter, taken from the client's clock, never now(): a
// distributed PostgreSQL (Citus) cannot push now() down into ON CONFLICT
// ... DO UPDATE SET, and with one clock for every write of persist's,
// updated_at never precedes created_at, as on SQLite, which uses the
// client's clock too. Only writers that name (id, data) alone get the
// server's time, from the columns' defaults.

// insertInto starts an INSERT of new rows into q, aliased t, with the
// columns that newRow lists.
func insertInto(q string) string {
	return "INSERT INTO " + q + " AS t (id, data, created_at, updated_at) "
}

// newRow lists the values of a new row for insertInto's columns: the
// record's id and data, and the time of the write as both times.
func newRow(id, data, now string) string {
	return id + ", " + data + ", " + now + ", " + now
}

// setWrite is the SET clause of a write to a stored row, aliased t.
func setWrite(data, now string) string {
	return " SET data = " + data + ", revision = t.revision + 1, updated_at = " + now
}

// onConflictReplace makes an insertInto replace the stored row of the same
// id, as Put does, with the time the new row would have had.
var onConflictReplace = " ON CONFLICT (id) DO UPDATE" + setWrite("excluded.data", "excluded.updated_at")

// returning is what a written row gives back: returnRow for one record,
// returnRows with the id, to match rows of many.
const (
	returnRow  = " RETURNING t.revision, t.created_at, t.updated_at"
	returnRows = " RETURNING t.id, t.revision, t.created_at, t.updated_at"
)

// ts casts parameter p, the time of a write, so that it is typed wherever
// it stands.
func ts(p string) string { return p + "::timestamptz" }

// writeTime is the time of a write: now, at the microsecond precision
// both backends store.
func writeTime() time.Time { return time.Now().Truncate(time.Microsecond) }
