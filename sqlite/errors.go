package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/persistkit/persist"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// transientError marks a driver error that is safe to retry as is:
// SQLITE_BUSY and SQLITE_LOCKED abort the statement before it changes
// anything, so even a non-idempotent write can run again.
type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Transient() bool { return true }

// TransientReason is the class of the error an observer records for a
// retry.
func (e *transientError) TransientReason() string { return "busy" }

// wrap turns any error from an operation into the *persist.Error callers
// see. Errors that are already *persist.Error pass through, so mapping
// happens once however deep the call that failed.
func (db *DB) wrap(ctx context.Context, op, table, id string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*persist.Error); ok {
		return pe
	}
	return &persist.Error{Op: op, Table: table, ID: id, Err: db.mapErr(ctx, err)}
}

// mapErr translates driver and database/sql errors into the root
// sentinels, keeping the original error reachable with errors.As.
func (db *DB) mapErr(ctx context.Context, err error) error {
	if ctx != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The driver reports an interrupted statement as its own error;
			// callers check for the context's.
			return fmt.Errorf("%w: %w", cerr, err)
		}
	}
	if errors.Is(err, persist.ErrClosed) {
		return err
	}
	if db.closed.Load() || errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", persist.ErrClosed, err)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %w", persist.ErrConflict, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &transientError{err: err}
		}
	}
	return err
}

// errInvalid builds the error for rejected input.
func errInvalid(op, table, id string, format string, args ...any) error {
	return &persist.Error{Op: op, Table: table, ID: id, Err: fmt.Errorf("%w: "+format, append([]any{persist.ErrInvalid}, args...)...)}
}

// errReadOnly is the error of every write to a DB opened read-only.
func errReadOnly(op, table, id string) error {
	return errInvalid(op, table, id, "the database was opened read-only")
}

// errClosed is the error of every call after Close.
func errClosed(op, table, id string) error {
	return &persist.Error{Op: op, Table: table, ID: id, Err: persist.ErrClosed}
}

// isUnavailable reports whether opening failed because the file could not
// be reached (missing directory, permissions, I/O), as opposed to being
// reached and found unusable, such as a file that is not a database.
func isUnavailable(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return true
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}
