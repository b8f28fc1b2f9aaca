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

// MaxIDLen is the longest record id, in bytes.
const MaxIDLen = 512

// MaxTableLen is the longest table name, in bytes. PostgreSQL truncates
// identifiers at 63 bytes, so longer names could collide.
const MaxTableLen = 63

// reserved names belong to persist's own bookkeeping.
var reserved = map[string]bool{"persist_meta": true}

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

// ID reports whether id is a valid record id: 1 to MaxIDLen bytes of valid
// UTF-8 with no control characters.
func ID(id string) error {
	if id == "" {
		return fmt.Errorf("id is empty")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("id is %d bytes, more than %d", len(id), MaxIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("id is not valid UTF-8")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return fmt.Errorf("id contains control character %U", r)
		}
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
