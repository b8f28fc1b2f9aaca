package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/persistkit/persist"
)

// transientError marks an error that is safe to retry as it is, so that
// [persist.IsTransient] (and internal/retry) recognise it. reason is its
// class, as an observer records it for a retry.
type transientError struct {
	err    error
	reason string
}

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() error   { return e.err }
func (e *transientError) Transient() bool { return true }

// TransientReason is the class of the error: "serialization_failure",
// "deadlock", "unavailable" or "transient".
func (e *transientError) TransientReason() string { return e.reason }

// scrubbedError carries a driver error whose message has had every known
// secret removed. Unwrap still reaches the driver's error so errors.As finds
// a *pgconn.PgError or a net.Error, but never a *pgconn.ConnectError, whose
// Config holds the password.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// tokenError reports that the token credential failed; BeforeConnect
// returns it so the failure is mapped to a [persist.ConnError].
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// errorClass says what a driver error means for the caller and for retries.
type errorClass int

const (
	classOther    errorClass = iota
	classConflict            // unique violation
	classRollback            // serialization failure or deadlock: the server rolled back, always safe to retry
	classLost                // connection lost: the statement may or may not have run
	classConnect             // could not connect or authenticate
	classInvalid             // the server refused a value: bad input that validation let through
)

// classify sorts a driver error. It matches on types and SQLSTATE codes,
// never on message text.
func classify(err error) errorClass {
	var te *tokenError
	if errors.As(err, &te) {
		return classConnect
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return classConnect
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return classConflict
		case pe.Code == "40001", pe.Code == "40P01":
			return classRollback
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", strings.HasPrefix(pe.Code, "08"):
			return classLost
		case strings.HasPrefix(pe.Code, "22"), pe.Code == "54000":
			// Class 22 (data exception: a number beyond numeric's range,
			// U+0000 or invalid text in a jsonb value or an id, a
			// timestamp out of range) and 54000 (program limit exceeded:
			// a jsonb value too large) can only come from the values a
			// caller sent, since every identifier is validated and every
			// value bound. Validation should refuse them first; this is
			// the last line of defence, so that a gap in it still yields
			// ErrInvalid rather than an error matching no sentinel.
			return classInvalid
		}
		return classOther
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return classLost
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classOther
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return classLost
	}
	return classOther
}

// mapError turns a driver error into the error a Store method returns: a
// [*persist.Error] wrapping the matching sentinel, or a [*persist.ConnError].
// safe says whether repeating the operation after a lost connection is
// harmless (reads, idempotent writes, transactions that never reached
// COMMIT); only then is a lost connection marked transient. Errors this
// package built itself pass through unchanged.
func (db *DB) mapError(ctx context.Context, op, table, id string, err error, safe bool) error {
	if err == nil {
		return nil
	}
	var pe *persist.Error
	var ce *persist.ConnError
	if errors.As(err, &pe) || errors.As(err, &ce) {
		return err
	}
	if db.closed.Load() {
		return &persist.Error{Op: op, Table: table, ID: id, Err: persist.ErrClosed}
	}
	class := classify(err)
	if class == classConnect {
		return &persist.ConnError{Op: op, URL: db.url, Err: db.scrubConnect(err)}
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return &persist.Error{Op: op, Table: table, ID: id, Err: cerr}
		}
		return &persist.Error{Op: op, Table: table, ID: id, Err: fmt.Errorf("%w: %w", cerr, db.scrub(err))}
	}
	switch class {
	case classInvalid:
		return &persist.Error{Op: op, Table: table, ID: id, Err: fmt.Errorf("%w: %w", persist.ErrInvalid, db.scrub(err))}
	case classConflict:
		return &persist.Error{Op: op, Table: table, ID: id, Err: fmt.Errorf("%w: %w", persist.ErrConflict, err)}
	case classRollback:
		reason := "serialization_failure"
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "40P01" {
			reason = "deadlock"
		}
		return &persist.Error{Op: op, Table: table, ID: id, Err: &transientError{err, reason}}
	case classLost:
		// The server is out of reach, at least for now: hosts map this to
		// 503 like a failed connect, whether or not it is retried.
		lost := fmt.Errorf("%w: %w", persist.ErrUnavailable, db.scrub(err))
		if safe || pgconn.SafeToRetry(err) {
			return &persist.Error{Op: op, Table: table, ID: id, Err: &transientError{lost, "unavailable"}}
		}
		return &persist.Error{Op: op, Table: table, ID: id, Err: lost}
	}
	if pgconn.SafeToRetry(err) {
		return &persist.Error{Op: op, Table: table, ID: id, Err: &transientError{db.scrub(err), "transient"}}
	}
	return &persist.Error{Op: op, Table: table, ID: id, Err: db.scrub(err)}
}

// connLost reports whether err means the connection it ran on is gone, so
// that other idle connections are likely gone too.
func connLost(err error) bool { return classify(err) == classLost }

// scrub removes the password and the current access token from err's
// message. Server and driver messages do not normally contain either; this
// is the guarantee that they never do.
func (db *DB) scrub(err error) error {
	msg := err.Error()
	clean := db.scrubString(msg)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

func (db *DB) scrubString(s string) string {
	for _, secret := range db.secrets() {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}

// secrets lists the strings that must never appear in an error or a log.
func (db *DB) secrets() []string {
	var out []string
	if db.password != "" {
		out = append(out, db.password)
	}
	if db.tokens != nil {
		if t := db.tokens.current(); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// scrubConnect rewrites a connection failure. pgconn.ConnectError's message
// names the user and database and its Config field holds the password, so
// the result keeps only the underlying cause, scrubbed.
func (db *DB) scrubConnect(err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(te.Error(), "\n", "; ")), " ")
		return &scrubbedError{msg: db.scrubString(msg), err: te.err}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		inner := ce.Unwrap()
		if inner == nil {
			return errors.New("connect failed")
		}
		// Each address and TLS mode tried is one line; keep the message on one.
		msg := strings.ReplaceAll(inner.Error(), "\n", "; ")
		return &scrubbedError{msg: "connect: " + db.scrubString(msg), err: inner}
	}
	return db.scrub(err)
}
