package jsonx

import (
	"fmt"
	"strconv"
)

// IDField returns the object doc with its top-level member field holding
// id, for tables shared with writers that keep a record's id inside its
// document. A doc without the field gets it as its first member; a doc
// whose field already holds id, as a string, is returned unchanged; any
// other value of the field, in any of its occurrences, is an error that
// names it, so a document can never disagree with its row's id.
func IDField(doc []byte, field, id string) ([]byte, error) {
	if err := ValidateObject(doc); err != nil {
		return nil, err
	}
	s := scanner{data: doc}
	s.skipWS()
	open := s.pos
	s.pos++ // '{'
	s.depth = 1
	found, empty := false, true
	var key, val []byte
	for {
		s.skipWS()
		if doc[s.pos] == '}' {
			break
		}
		empty = false
		key = decodeString(key[:0], doc, s.pos)
		_ = s.str() // cannot fail: doc is valid
		s.skipWS()
		s.pos++ // ':'
		s.skipWS()
		v0 := s.pos
		_ = s.value()
		if string(key) == field {
			if doc[v0] != '"' {
				kind := kindAt(doc[v0])
				if doc[v0] == '{' {
					kind = "an object"
				}
				return nil, fmt.Errorf("field %s is %s, not the record's id %s", strconv.Quote(field), kind, quoteID(id))
			}
			if val = decodeString(val[:0], doc, v0); string(val) != id {
				return nil, fmt.Errorf("field %s is %s, not the record's id %s", strconv.Quote(field), quoteID(string(val)), quoteID(id))
			}
			found = true
		}
		s.skipWS()
		if doc[s.pos] == ',' {
			s.pos++
		}
	}
	if found {
		return doc, nil
	}
	out := make([]byte, 0, len(doc)+len(field)+len(id)+8)
	out = append(out, doc[:open+1]...)
	out = appendString(out, field)
	out = append(out, ':')
	out = appendString(out, id)
	if !empty {
		out = append(out, ',')
	}
	return append(out, doc[open+1:]...), nil
}

// quoteID quotes an id for a message, cut short if long.
func quoteID(id string) string {
	if len(id) > 64 {
		return strconv.Quote(id[:64]) + "..."
	}
	return strconv.Quote(id)
}

// appendString appends s, valid UTF-8, as a JSON string literal: quote,
// backslash and control characters escaped, everything else as is.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
