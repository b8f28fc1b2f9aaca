package sqlite

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/persistkit/persist"
)

func init() {
	persist.Register("sqlite", openURL)
	persist.Register("file", openURL)
}

// memoryPath is the path that names an in-memory database.
const memoryPath = ":memory:"

// urlConfig is what a sqlite: or file: URL says.
type urlConfig struct {
	path        string
	memory      bool
	busyTimeout time.Duration // 0 when the URL does not set it
	maxReaders  int           // 0 when the URL does not set it
	readOnly    bool          // mode=ro
}

// ParseURL returns the database file path that a sqlite: or file: URL
// names, or memory true for an in-memory database:
//
//	sqlite:///data/app.db     data/app.db (relative, as SQLAlchemy reads it)
//	sqlite:////var/app.db     /var/app.db
//	sqlite://:memory:         in memory (also sqlite::memory: and sqlite://)
//	file:data/app.db          data/app.db
//	file:///var/app.db        /var/app.db (also file:/var/app.db)
//
// The path is percent-decoded. Query parameters other than busy_timeout,
// max_readers and mode=ro (see [Options.ReadOnly]) are
// [persist.ErrInvalid], as is any malformed URL.
func ParseURL(rawURL string) (path string, memory bool, err error) {
	c, err := parseURL(rawURL)
	if err != nil {
		return "", false, err
	}
	return c.path, c.memory, nil
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
		case host == memoryPath && tail == "":
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
		dec, err := url.PathUnescape(p)
		if err != nil {
			return fail("bad escape in path: %v", err)
		}
		switch {
		case dec == memoryPath:
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
		q, err := url.ParseQuery(query)
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
			default:
				return fail("unknown parameter %q (supported: busy_timeout, max_readers, mode)", k)
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

// openURL is the persist.OpenFunc for the sqlite and file schemes.
func openURL(ctx context.Context, rawURL string, opts *persist.Options) (persist.DB, error) {
	c, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	o := &Options{BusyTimeout: c.busyTimeout, MaxReaders: c.maxReaders, ReadOnly: c.readOnly}
	if opts != nil {
		o.Options = *opts
	}
	db, err := open(ctx, c, o)
	if err != nil {
		return nil, err
	}
	return db, nil
}
