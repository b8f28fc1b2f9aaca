package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	neturl "net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
)

func init() {
	persist.Register("sqlite", openURL)
	persist.Register("file", openURL)
}

// MemoryPath is the [Config.Path] of an in-memory database, which lives
// as long as its DB.
const MemoryPath = ":memory:"

// Config configures a SQLite DB. Get one from [ParseConfig], change what
// your code decides, and pass it to [OpenConfig]: the URL is read first,
// and whatever the Config holds when OpenConfig is called wins.
type Config struct {
	// Logger, Retry, IDField and Observer: see [persist.Options]. Nil
	// Logger discards, nil Retry means [persist.DefaultRetryPolicy], nil
	// Observer observes nothing.
	persist.Options

	// Path is the database file, or [MemoryPath]. A missing file and its
	// directory are created (0600 and 0700).
	Path string

	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before failing with a transient error (URL
	// parameter busy_timeout). Zero means 5s.
	BusyTimeout time.Duration

	// MaxReaders caps the read-only connection pool (URL parameter
	// max_readers). Zero means max(4, GOMAXPROCS).
	MaxReaders int

	// ReadOnly opens an existing file for reading only (URL parameter
	// mode=ro): nothing in the file is created, upgraded or written, so
	// its bytes stay as they were. A table in the earlier portal layout
	// is read as it is, with its rowid order as insertion order, revision
	// 1, and the time the DB was opened as created and updated time, as
	// an upgrade would record them. Writes and [DB.Tx] fail with
	// [persist.ErrInvalid], and the first use of a missing table with
	// [persist.ErrNotFound]. Default false.
	ReadOnly bool
}

// defaultBusyTimeout is Config.BusyTimeout's default.
const defaultBusyTimeout = 5 * time.Second

// ParseConfig reads url into a Config, with the defaults filled in,
// without touching the file. url is a file path, [MemoryPath], or a
// sqlite: or file: URL:
//
//	sqlite:///data/app.db     data/app.db (relative, as SQLAlchemy reads it)
//	sqlite:////var/app.db     /var/app.db
//	sqlite://:memory:         in memory (also sqlite::memory: and sqlite://)
//	file:data/app.db          data/app.db
//	file:///var/app.db        /var/app.db (also file:/var/app.db)
//
// A URL's path is percent-decoded. Query parameters other than
// busy_timeout (milliseconds or a Go duration such as 5s), max_readers and
// mode=ro are [persist.ErrInvalid], as is any malformed URL, a URL of
// another scheme, and an empty url.
func ParseConfig(url string) (*Config, error) {
	var c urlConfig
	lower := strings.ToLower(url)
	switch {
	case strings.HasPrefix(lower, "sqlite:"), strings.HasPrefix(lower, "file:"):
		var err error
		if c, err = parseURL(url); err != nil {
			return nil, err
		}
	case url == MemoryPath:
		c.memory = true
	case url == "":
		return nil, errInvalid("open", "", "", "empty url")
	case hasScheme(url):
		// Read as a path, it would make a directory named for the
		// scheme; a URL meant for another backend is the likelier intent.
		return nil, errInvalid("open", "", "", "url %q: scheme must be sqlite or file", persist.Redact(url))
	default:
		c.path = url
	}
	cfg := &Config{
		Path:        c.path,
		BusyTimeout: c.busyTimeout,
		MaxReaders:  c.maxReaders,
		ReadOnly:    c.readOnly,
	}
	cfg.IDField = c.idField
	if c.memory {
		cfg.Path = MemoryPath
	}
	cfg.defaults()
	return cfg, nil
}

// hasScheme reports whether s starts like scheme://.
func hasScheme(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || len(scheme) < 2 {
		return false // a drive letter, or nothing
	}
	for i, c := range scheme {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// defaults fills in the fields left zero.
func (c *Config) defaults() {
	if c.BusyTimeout == 0 {
		c.BusyTimeout = defaultBusyTimeout
	}
	if c.MaxReaders == 0 {
		c.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
}

// Open opens the SQLite database that url names: [ParseConfig] then
// [OpenConfig].
//
// opts is deprecated and goes in v0.3.0, leaving Open(ctx, url): set the
// fields of a [Config] instead. The non-zero fields of each opts are
// applied after the URL, as edits to a Config are.
func Open(ctx context.Context, url string, opts ...*Options) (*DB, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.apply(cfg)
	}
	return OpenConfig(ctx, cfg)
}

// Options configure a DB opened with [Open].
//
// Deprecated: use [ParseConfig], set the fields of the [Config], and
// [OpenConfig]. Options will be removed in v0.3.0.
type Options struct {
	persist.Options

	// BusyTimeout is [Config.BusyTimeout].
	BusyTimeout time.Duration

	// MaxReaders is [Config.MaxReaders].
	MaxReaders int

	// ReadOnly is [Config.ReadOnly].
	ReadOnly bool
}

// apply sets cfg's fields from o's non-zero ones. Before Config, a URL
// parameter won over the same Options field; now code wins, as it does
// on PostgreSQL.
func (o *Options) apply(cfg *Config) {
	if o == nil {
		return
	}
	if o.Logger != nil {
		cfg.Logger = o.Logger
	}
	if o.Retry != nil {
		cfg.Retry = o.Retry
	}
	if o.IDField != "" {
		cfg.IDField = o.IDField
	}
	if o.Observer != nil {
		cfg.Observer = o.Observer
	}
	if o.BusyTimeout != 0 {
		cfg.BusyTimeout = o.BusyTimeout
	}
	if o.MaxReaders != 0 {
		cfg.MaxReaders = o.MaxReaders
	}
	if o.ReadOnly {
		cfg.ReadOnly = true
	}
}

// ParseURL returns the database file path that a sqlite: or file: URL
// names, or memory true for an in-memory database.
//
// Deprecated: use [ParseConfig], whose Config holds the path (or
// [MemoryPath]) and every other setting of the URL. ParseURL will be
// removed in v0.3.0.
func ParseURL(rawURL string) (path string, memory bool, err error) {
	c, err := parseURL(rawURL)
	if err != nil {
		return "", false, err
	}
	return c.path, c.memory, nil
}

// openURL is the persist.OpenFunc for the sqlite and file schemes: the
// URL, then the caller's persist.Options.
func openURL(ctx context.Context, url string, opts *persist.Options) (persist.DB, error) {
	cfg, err := ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		// Code wins over the URL, field by field: an Options without an
		// IDField keeps the URL's id_field.
		idField := cfg.IDField
		cfg.Options = *opts
		if cfg.IDField == "" {
			cfg.IDField = idField
		}
	}
	db, err := OpenConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// String describes c as the sqlite: URL that ParseConfig reads back into
// the same settings.
func (c *Config) String() string {
	if c == nil {
		return "<nil>"
	}
	u := "sqlite://:memory:"
	if c.Path != MemoryPath {
		u = "sqlite:///" + (&neturl.URL{Path: c.Path}).EscapedPath()
	}
	q := neturl.Values{}
	if c.BusyTimeout != 0 {
		q.Set("busy_timeout", c.BusyTimeout.String())
	}
	if c.MaxReaders != 0 {
		q.Set("max_readers", strconv.Itoa(c.MaxReaders))
	}
	if c.ReadOnly {
		q.Set("mode", "ro")
	}
	if c.IDField != "" {
		q.Set("id_field", c.IDField)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// GoString is String, for %#v.
func (c *Config) GoString() string { return "sqlite.Config{" + c.String() + "}" }

// LogValue is String, so that a logged Config reads as its URL.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// urlConfig is what a sqlite: or file: URL says.
type urlConfig struct {
	path        string
	memory      bool
	busyTimeout time.Duration // 0 when the URL does not set it
	maxReaders  int           // 0 when the URL does not set it
	readOnly    bool          // mode=ro
	idField     string        // id_field
}

func parseURL(raw string) (urlConfig, error) {
	fail := func(format string, args ...any) (urlConfig, error) {
		return urlConfig{}, errInvalid("open", "", "", "url %q: "+format, append([]any{persist.Redact(raw)}, args...)...)
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	if !ok || scheme != "sqlite" && scheme != "file" {
		return fail("scheme must be sqlite or file")
	}
	if strings.Contains(rest, "#") {
		return fail("fragments are not supported")
	}
	rest, query, hasQuery := strings.Cut(rest, "?")

	var c urlConfig
	p := rest
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		host, tail, slash := strings.Cut(after, "/")
		switch {
		case host == MemoryPath && tail == "":
			c.memory = true
		case host == "", scheme == "file" && strings.EqualFold(host, "localhost"):
			if scheme == "sqlite" {
				// SQLAlchemy: the path follows the third slash, so four
				// slashes make it absolute.
				p = tail
			} else {
				p = "/" + tail
			}
		default:
			return fail("a host is not supported; a relative path is written sqlite:///path")
		}
		if scheme == "sqlite" && after == "" && !slash {
			// sqlite:// is SQLAlchemy's in-memory database; sqlite:/// with
			// an empty path is more likely an unset variable, so it fails.
			c.memory = true
		}
	}
	if !c.memory {
		dec, err := neturl.PathUnescape(p)
		if err != nil {
			return fail("bad escape in path: %v", err)
		}
		switch {
		case dec == MemoryPath:
			c.memory = true
		case dec == "":
			return fail("no database path")
		case strings.ContainsRune(dec, 0):
			return fail("path contains NUL")
		default:
			c.path = dec
		}
	}
	if hasQuery {
		q, err := neturl.ParseQuery(query)
		if err != nil {
			return fail("bad query: %v", err)
		}
		for k, vs := range q {
			if len(vs) != 1 {
				return fail("parameter %q given %d times", k, len(vs))
			}
			v := vs[0]
			switch k {
			case "busy_timeout":
				d, err := parseMillis(v)
				if err != nil {
					return fail("busy_timeout %q: %v", v, err)
				}
				c.busyTimeout = d
			case "max_readers":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return fail("max_readers %q: want a positive integer", v)
				}
				c.maxReaders = n
			case "mode":
				if v != "ro" {
					return fail("mode %q: only ro is supported", v)
				}
				c.readOnly = true
			case "id_field":
				if err := check.IDField(v); err != nil {
					return fail("%v", err)
				}
				c.idField = v
			default:
				return fail("unknown parameter %q (supported: busy_timeout, max_readers, mode, id_field)", k)
			}
		}
	}
	return c, nil
}

// parseMillis reads a duration as SQLite's integer milliseconds or as a Go
// duration string.
func parseMillis(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(time.Duration(1<<63-1)/time.Millisecond) {
			return 0, fmt.Errorf("too large")
		}
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("want milliseconds or a duration such as 5s")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return d, nil
}
