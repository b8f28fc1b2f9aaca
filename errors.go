package persist

import (
	"errors"
	"strings"
)

// Sentinel errors. Callers branch on them with [errors.Is]; every error a
// [Store] or [DB] returns wraps at most one of them, usually inside an [*Error].
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict means the write lost a race it was told to check: the
	// record already exists (Insert) or its revision is not the expected one.
	ErrConflict = errors.New("conflict")

	// ErrClosed means the DB was closed before or during the call.
	ErrClosed = errors.New("database is closed")

	// ErrInvalid means the caller's input was rejected before anything was
	// written: a bad table name, id, JSON document, filter, option or URL.
	ErrInvalid = errors.New("invalid input")

	// ErrUnknownScheme means no backend is registered for a URL's scheme.
	ErrUnknownScheme = errors.New("unknown scheme")

	// ErrUnavailable means the database could not be reached, or the
	// connection to it was lost during the operation (a write's outcome is
	// then unknown). Every [*ConnError] matches it, so hosts can map it to
	// 503 with one check.
	ErrUnavailable = errors.New("database unavailable")

	// ErrCursorExpired means a [ChangeFeed] no longer holds the changes
	// that follow a cursor: they were pruned (see [Retention]). The
	// consumer cannot catch up change by change and must load what it
	// needs in full, then follow from a new [ChangeFeed.Cursor].
	ErrCursorExpired = errors.New("change feed cursor expired")
)

// Error describes a failed operation on one table or record. Op is the
// method name ("get", "put", ...), Table and ID say where, and Err is the
// cause: a sentinel, a driver error, or both joined.
//
// Its message reads "persist: get users/42: not found".
type Error struct {
	Op    string
	Table string
	ID    string
	Err   error
}

// Error returns "persist: op table/id: cause", with a long or unprintable
// id quoted and truncated.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("persist: ")
	b.WriteString(e.Op)
	if e.Table != "" {
		b.WriteByte(' ')
		b.WriteString(e.Table)
		if e.ID != "" {
			b.WriteByte('/')
			b.WriteString(quoteID(e.ID))
		}
	} else if e.ID != "" {
		b.WriteByte(' ')
		b.WriteString(quoteID(e.ID))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so [errors.Is] sees the sentinel and
// [errors.As] sees the driver's own error type.
func (e *Error) Unwrap() error { return e.Err }

// quoteID keeps error messages on one line and bounded whatever the caller
// passed as an id: a rejected 10 KB id must not become a 10 KB log line.
func quoteID(id string) string {
	const max = 64
	clean := true
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r == '/' || r == ' ' {
			clean = false
			break
		}
	}
	if clean && len(id) <= max {
		return id
	}
	if len(id) > max {
		cut := max
		for cut > 0 && id[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return strconvQuote(id[:cut]) + "..."
	}
	return strconvQuote(id)
}

// ConnError reports that the database could not be reached or refused the
// credentials: connection refused, DNS failure, timeout, authentication
// failure, or a token credential that could not produce a token.
// URL is redacted (see [Redact]); Err never carries a password or token.
// ConnError matches [ErrUnavailable].
type ConnError struct {
	Op  string // "open", "ping", "get", ...
	URL string // redacted
	Err error
}

// Error returns "persist: op url: database unavailable: cause".
func (e *ConnError) Error() string {
	msg := "persist: " + e.Op
	if e.URL != "" {
		msg += " " + e.URL
	}
	msg += ": " + ErrUnavailable.Error()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying network or driver error.
func (e *ConnError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrUnavailable].
func (e *ConnError) Is(target error) bool { return target == ErrUnavailable }

// IsTransient reports whether err is worth retrying as it is: a busy or
// locked database, a serialization failure, a deadlock, or a connection lost
// before the statement was sent. Backends mark such errors by wrapping an
// error whose Transient method returns true; IsTransient looks for one
// anywhere in the chain.
//
// A transient error on a write whose outcome is unknown is not marked: the
// write may have happened.
func IsTransient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}
