package jsonx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kind is the JSON type of a filter value, which decides how a backend
// compares it.
type Kind int

// The kinds of scalar a filter value can have. The zero Kind is none of
// them, so an uninitialised Field is recognisably invalid.
const (
	KindNull Kind = iota + 1
	KindBool
	KindNumber
	KindString
)

// String returns the lowercase JSON name of the kind, for error messages.
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field is one top-level equality condition of a query filter.
type Field struct {
	// Key is the decoded key.
	Key string
	// Value is the scalar exactly as written in the filter (a copy, not
	// aliasing the input), so numbers keep their spelling; use
	// CanonicalNumber or Canonical when comparing by value.
	Value json.RawMessage
	// Kind is the type of Value.
	Kind Kind
}

// ParseFilter parses a filter object {"k": scalar, ...}. Only scalars
// (string, number, bool, null) are allowed as values, because filters are
// top-level equality tests that both backends must evaluate identically. The
// empty filter {} matches everything and yields no fields. Fields are sorted
// by key so that equal filters produce equal queries; a duplicate key is an
// error rather than last-wins because it almost certainly is a caller bug.
// Keys are not checked beyond being valid strings: key syntax is the
// caller's policy.
func ParseFilter(b []byte) ([]Field, error) {
	ms, err := topMembers(b)
	if err != nil {
		return nil, &contextError{"filter", err}
	}
	if len(ms) == 0 {
		return nil, nil
	}
	fields := make([]Field, 0, len(ms))
	for _, m := range ms {
		var k Kind
		switch m.value[0] {
		case '{', '[':
			return nil, fmt.Errorf("jsonx: filter value for key %q at offset %d is %s; only scalars are allowed", m.key, m.off, kindName(m.value[0]))
		case 'n':
			k = KindNull
		case 't', 'f':
			k = KindBool
		case '"':
			k = KindString
		default:
			k = KindNumber
		}
		fields = append(fields, Field{Key: m.key, Value: json.RawMessage(bytes.Clone(m.value)), Kind: k})
	}
	slices.SortStableFunc(fields, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(fields); i++ {
		if fields[i].Key == fields[i-1].Key {
			return nil, fmt.Errorf("jsonx: filter has duplicate key %q", fields[i].Key)
		}
	}
	return fields, nil
}

func kindName(c byte) string {
	if c == '{' {
		return "an object"
	}
	return "an array"
}
