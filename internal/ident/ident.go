// Package ident validates the names persist puts into SQL — table names,
// record ids and filter keys — and quotes identifiers. Values are always
// bound as parameters; only validated, quoted identifiers are ever
// formatted into a statement.
package ident

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxIDLen is the longest record id, in bytes. PostgreSQL keeps ids in a
// B-tree index, whose entries hold at most 2704 bytes; 2048 leaves room
// for the entry's overhead, so an id of any bytes up to this length is
// stored by every backend and can be migrated between them.
const MaxIDLen = 2048

// MaxTableLen is the longest table name, in bytes. PostgreSQL truncates
// identifiers at 63 bytes, so longer names could collide.
const MaxTableLen = 63

// reserved names belong to persist's own bookkeeping.
var reserved = map[string]bool{"persist_meta": true, "persist_replaced": true, "persist_changes": true, "persist_feed": true}

// Table reports whether name is a valid table name: ^[a-z_][a-z0-9_]{0,62}$,
// not starting with "sqlite_" or "pg_", and not reserved.
func Table(name string) error {
	if name == "" {
		return fmt.Errorf("table name is empty")
	}
	if len(name) > MaxTableLen {
		return fmt.Errorf("table name is %d bytes, more than %d", len(name), MaxTableLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("table name %q: must match ^[a-z_][a-z0-9_]{0,62}$", truncate(name))
	}
	if strings.HasPrefix(name, "sqlite_") || strings.HasPrefix(name, "pg_") || reserved[name] {
		return fmt.Errorf("table name %q is reserved", name)
	}
	return nil
}

// ID reports whether id can be a record id on every backend: valid UTF-8
// without U+0000, which PostgreSQL's text cannot hold, and at most
// MaxIDLen bytes. It checks what a backend cannot store, not style: the
// empty id, control characters and spaces are ids, since the earlier
// portal's writers may have stored them. Operations that generate an id
// for an empty one (Put, Insert) do so before asking.
func ID(id string) error {
	if len(id) > MaxIDLen {
		return fmt.Errorf("id is %d bytes, more than %d", len(id), MaxIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("id is not valid UTF-8")
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("id contains U+0000")
	}
	return nil
}

// FilterKey reports whether k may name a top-level field in a query filter:
// ^[A-Za-z_][A-Za-z0-9_-]{0,127}$. The restriction keeps keys valid as JSON
// path segments on every backend without any escaping.
func FilterKey(k string) error {
	if k == "" {
		return fmt.Errorf("filter key is empty")
	}
	if len(k) > 128 {
		return fmt.Errorf("filter key is %d bytes, more than 128", len(k))
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-') {
			continue
		}
		return fmt.Errorf("filter key %q: must match ^[A-Za-z_][A-Za-z0-9_-]{0,127}$", truncate(k))
	}
	return nil
}

// Quote returns name as a double-quoted SQL identifier. It is correct for
// any string, but callers pass only names that Table accepted.
func Quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// NewID returns a new time-ordered (version 7) UUID string.
func NewID() string {
	u, err := uuid.NewV7()
	if err != nil { // only if the random source fails
		return uuid.NewString()
	}
	return u.String()
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
