package persist

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
)

// Options configure a DB. A nil *Options means the defaults. A backend
// reads the URL first and then applies these, as its OpenConfig applies
// what code sets on its Config: code wins over the URL.
type Options struct {
	// Logger receives connection-level events (opens, retries, upgrades of
	// old table layouts). Nil discards them. URLs are redacted and no
	// password or token is ever logged.
	Logger *slog.Logger

	// Retry is the policy for transient errors. Nil means
	// [DefaultRetryPolicy].
	Retry *RetryPolicy

	// IDField, when set, names a top-level document field that holds the
	// record's id (URL parameter id_field), for tables shared with the
	// earlier portal, whose code reads the id from the document. Every
	// document written (Put, Insert, InsertMany, ReplaceAll, Update,
	// UpdateFunc, PutMany, Apply) gets the field set to its id, as its
	// first member when it is missing; a document whose field holds
	// anything else is [ErrInvalid] and nothing is written. Documents
	// already stored are returned as they are. Empty (the default) leaves
	// documents alone. It must match ^[A-Za-z_][A-Za-z0-9_-]{0,127}$.
	IDField string

	// Observer, when set, is told of every operation of the DB and its
	// stores: its name, table, record count, attempts and outcome (see
	// [Observer]). Nil (the default) observes nothing and costs nothing.
	Observer Observer
}

// OpenFunc opens a DB for a URL whose scheme it was registered for. It
// receives the URL as the caller wrote it. The backends in this module
// parse it into their Config, apply opts, and open that Config.
type OpenFunc func(ctx context.Context, url string, opts *Options) (DB, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]OpenFunc{}
)

// knownImports names the package that provides each scheme, so a missing
// import is an error that says how to fix it.
var knownImports = map[string]string{
	"sqlite":              "github.com/persistkit/persist/sqlite",
	"file":                "github.com/persistkit/persist/sqlite",
	"postgres":            "github.com/persistkit/persist/postgres",
	"postgresql":          "github.com/persistkit/persist/postgres",
	"postgresql+asyncpg":  "github.com/persistkit/persist/postgres",
	"postgresql+psycopg":  "github.com/persistkit/persist/postgres",
	"postgresql+psycopg2": "github.com/persistkit/persist/postgres",
}

// Register makes a backend available to [Open] for a URL scheme, in the
// manner of database/sql.Register: backends call it from init, so a program
// links only the backends it imports. Schemes are case-insensitive.
// Register panics if open is nil or the scheme is already registered, since
// both are programming errors found at start-up.
func Register(scheme string, open OpenFunc) {
	scheme = strings.ToLower(scheme)
	if open == nil {
		panic("persist: Register open func is nil for scheme " + scheme)
	}
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("persist: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open opens the database that url names, through the backend registered
// for its scheme:
//
//	sqlite:///relative/path.db   sqlite:////absolute/path.db
//	sqlite://:memory:            file:path.db
//	postgres://user@host/db      postgresql+psycopg2://user@host/db
//
// An unregistered scheme fails closed with [ErrUnknownScheme], naming the
// import that provides it. A malformed URL is [ErrInvalid]; an unreachable
// database is a [*ConnError].
func Open(ctx context.Context, url string, opts *Options) (DB, error) {
	scheme, _, ok := strings.Cut(url, ":")
	if !ok || scheme == "" || !validScheme(scheme) {
		return nil, &Error{Op: "open", Err: fmt.Errorf("%w: url %q has no scheme", ErrInvalid, Redact(url))}
	}
	scheme = strings.ToLower(scheme)
	openersMu.RLock()
	open := openers[scheme]
	openersMu.RUnlock()
	if open == nil {
		hint := "no backend provides it"
		if imp, ok := knownImports[scheme]; ok {
			hint = fmt.Sprintf("import _ %q to register it", imp)
		}
		return nil, &Error{Op: "open", Err: fmt.Errorf("%w %q: %s", ErrUnknownScheme, scheme, hint)}
	}
	return open(ctx, url, opts)
}

func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// EnvURL is the environment variable [OpenEnv] reads.
const EnvURL = "DATABASE_URL"

// OpenEnv opens the database named by the DATABASE_URL environment
// variable, or fallback when it is unset or empty.
func OpenEnv(ctx context.Context, fallback string, opts *Options) (DB, error) {
	url := os.Getenv(EnvURL)
	if url == "" {
		url = fallback
	}
	return Open(ctx, url, opts)
}
