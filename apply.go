package persist

import "context"

// Applier is an optional interface of a [DB] that makes several writes, to
// any of its tables, as one atomic step: all of them or none, and in one
// round trip where the backend can (one statement on PostgreSQL). It is a
// transaction whose every write and precondition is known up front, which
// lets the backend skip the round trips of BEGIN and COMMIT and hold row
// locks for the shortest possible time. Package budget uses it on its hot
// path; code that does not know of it runs the same writes in [DB.Tx].
type Applier interface {
	// Apply makes writes atomically and returns, for each write in order,
	// the record as stored (for a delete, a zero Record). If a
	// precondition fails nothing is written, and the error, an [*Error]
	// naming the table and id, matches:
	//   - [ErrConflict]: an insert's id exists, a put's non-zero
	//     Revision is not the stored one, or a check's Revision is not
	//     (0 for a check: the record must not exist);
	//   - [ErrNotFound]: a delete's id does not exist.
	// Invalid table names, ids or data, an unknown Op, and the same id
	// twice in one table are [ErrInvalid], also with nothing written.
	// Tables are created on first use, as by [DB.Store]. Apply with no
	// writes does nothing.
	Apply(ctx context.Context, writes ...Write) ([]Record, error)
}

// Write is one change made by [Applier.Apply].
type Write struct {
	Table string
	Op    WriteOp
	// Record is the record to insert or put, or, for a delete, names it
	// by ID alone. A put with a non-zero Revision requires the stored
	// record to be at that revision, as [Store.Put] does.
	Record Record
}

// WriteOp is the kind of a [Write].
type WriteOp uint8

// The kinds of [Write].
const (
	// WriteInsert creates a record that must not exist, as [Store.Insert].
	WriteInsert WriteOp = iota + 1
	// WritePut creates or replaces a record, as [Store.Put].
	WritePut
	// WriteDelete deletes a record that must exist.
	WriteDelete
	// WriteCheck writes nothing: it requires the record to be stored at
	// Record.Revision, or to be missing if that is 0, when the other
	// writes commit, and keeps it so until then. It makes the writes
	// depend on a record they were computed from.
	WriteCheck
)

// String returns the name of the operation, as used in error messages.
func (op WriteOp) String() string {
	switch op {
	case WriteInsert:
		return "insert"
	case WritePut:
		return "put"
	case WriteDelete:
		return "delete"
	case WriteCheck:
		return "check"
	}
	return "unknown"
}
