package persist

import (
	"context"
	"errors"
	"fmt"
)

// Applier is an optional interface of a [DB] that makes several writes, to
// any of its tables, as one atomic step: all of them or none, and in one
// round trip where the backend can (one statement on PostgreSQL). It is a
// transaction whose every write and precondition is known up front, which
// lets the backend skip the round trips of BEGIN and COMMIT and hold row
// locks for the shortest possible time. Callers need not look for it: the
// function [Apply] uses it when the DB has it and runs the same writes in
// [DB.Tx] otherwise, with the same results and errors.
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

// Apply makes writes to db atomically, as [Applier.Apply] does, with the
// same results and errors: by db's own Apply if it is an [Applier], and
// otherwise in one [DB.Tx], one store call per write. There a check reads
// its record with [GetManyForUpdate], so it holds the record until the
// commit wherever the store can lock it, and a put with a Revision is
// conditional as [Store.Put] is.
//
// Invalid input anywhere in writes is reported ahead of any failed
// precondition, as by an Applier, which validates everything first: after
// a precondition fails, the fallback still hands the remaining writes to
// their stores, which refuse invalid input before doing any I/O, and then
// rolls the whole transaction back.
func Apply(ctx context.Context, db DB, writes ...Write) ([]Record, error) {
	if a, ok := db.(Applier); ok {
		return a.Apply(ctx, writes...)
	}
	out := make([]Record, len(writes))
	err := db.Tx(ctx, func(tx Tx) error {
		type key struct{ table, id string }
		seen := make(map[key]bool, len(writes))
		var failed error // the first failed precondition
		for i, w := range writes {
			k := key{w.Table, w.Record.ID}
			rec, err := applyWrite(ctx, tx, i, w, seen[k])
			seen[k] = true
			switch {
			case err == nil:
				out[i] = rec
			case errors.Is(err, ErrInvalid):
				return err
			case failed != nil:
				// Only invalid input counts after a failed precondition;
				// the backend may refuse to go on with the transaction.
			case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
				failed = err
			default:
				return err
			}
		}
		return failed
	})
	var pe *Error
	if errors.As(err, &pe) && pe.Op == "tx" {
		// The transaction's own failure (closed, context) is Apply's.
		return nil, &Error{Op: "apply", Table: pe.Table, ID: pe.ID, Err: pe.Err}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// applyWrite makes write i of [Apply]'s fallback; dup reports that an
// earlier write named the same record. Errors of the store naming a
// sentinel are reported as Apply's own, naming the write.
func applyWrite(ctx context.Context, tx Tx, i int, w Write, dup bool) (Record, error) {
	fail := func(err error) error {
		return &Error{Op: "apply", Table: w.Table, ID: w.Record.ID, Err: fmt.Errorf("write %d: %s: %w", i, w.Op, err)}
	}
	s, err := tx.Store(w.Table)
	var rec Record
	switch {
	case err != nil:
	case w.Op < WriteInsert || w.Op > WriteCheck:
		return Record{}, fail(fmt.Errorf("%w: op %d is unknown", ErrInvalid, w.Op))
	case w.Record.ID == "":
		return Record{}, fail(fmt.Errorf("%w: empty id", ErrInvalid))
	case w.Record.Revision < 0:
		return Record{}, fail(fmt.Errorf("%w: revision %d is negative", ErrInvalid, w.Record.Revision))
	case dup:
		return Record{}, fail(fmt.Errorf("%w: id %q is written twice in table %s", ErrInvalid, w.Record.ID, w.Table))
	case w.Op == WriteInsert:
		rec, err = s.Insert(ctx, w.Record)
	case w.Op == WritePut:
		rec, err = s.Put(ctx, w.Record)
	case w.Op == WriteDelete:
		var existed bool
		existed, err = s.Delete(ctx, w.Record.ID)
		if err == nil && !existed {
			return Record{}, fail(fmt.Errorf("%w: no such record", ErrNotFound))
		}
	case w.Op == WriteCheck:
		var cur []Record
		cur, err = GetManyForUpdate(ctx, s, []string{w.Record.ID})
		if err == nil && cur[0].Revision != w.Record.Revision {
			return Record{}, fail(fmt.Errorf("%w: revision %d is not the stored revision %d", ErrConflict, w.Record.Revision, cur[0].Revision))
		}
	}
	var pe *Error
	if errors.As(err, &pe) && (errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)) {
		return Record{}, fail(pe.Err)
	}
	return rec, err
}
