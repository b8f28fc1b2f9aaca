package jsonx

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"slices"
	"sync"
	"unicode/utf8"
)

// Validate reports whether b is exactly one JSON value, with optional
// surrounding whitespace, that satisfies the package policy. Filter values
// and other non-document fragments go through it.
func Validate(b []byte) error {
	s := scanner{data: b}
	return s.document(false)
}

// ValidateObject reports whether b is exactly one JSON object that satisfies
// the package policy, which is what both backends require of a document.
func ValidateObject(b []byte) error {
	s := scanner{data: b}
	return s.document(true)
}

// Compact returns b without insignificant whitespace. Everything else is
// kept as written — key order, duplicate keys, escapes and number spelling —
// so the SQLite backend stores what the caller sent, only smaller. Compact
// validates b first and returns the validation error if it fails.
func Compact(b []byte) ([]byte, error) {
	if err := Validate(b); err != nil {
		return nil, err
	}
	return appendCompact(make([]byte, 0, len(b)), b), nil
}

// appendCompact appends valid JSON src without whitespace outside strings.
func appendCompact(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		switch c := src[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			dst = append(dst, src[i:j]...)
			i = j
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// Canonical returns the canonical encoding of the JSON value in b, described
// in the package documentation. It validates b first and returns the
// validation error if it fails.
func Canonical(b []byte) ([]byte, error) {
	if err := Validate(b); err != nil {
		return nil, err
	}
	// One allocation per scratch buffer up front instead of repeated growth;
	// the sizes cover typical documents.
	c := canon{
		d:       b,
		out:     make([]byte, 0, len(b)),
		keys:    make([]byte, 0, 128),
		members: make([]member, 0, 16),
	}
	c.skipWS()
	c.value()
	return c.out, nil
}

// Digest returns the SHA-256 of Canonical(b), a fixed-size identity of the
// value that both backends compute the same way. It allocates nothing once
// warm: a migration may digest every record on both sides, and allocating
// the scratch buffers per call made garbage collection a third of the cost.
func Digest(b []byte) ([32]byte, error) {
	if err := Validate(b); err != nil {
		return [32]byte{}, err
	}
	c := canonPool.Get().(*canon)
	c.d, c.pos, c.out, c.jsonb = b, 0, c.out[:0], false
	c.skipWS()
	c.value()
	sum := sha256.Sum256(c.out)
	c.release()
	return sum, nil
}

// release returns c to canonPool, unless a rare huge document grew its
// buffers: those must not stay pinned for the life of the process.
func (c *canon) release() {
	c.d = nil
	if cap(c.out)+cap(c.tmp)+cap(c.keys) <= maxPooled {
		canonPool.Put(c)
	}
}

// canonPool holds Digest's scratch buffers between calls.
var canonPool = sync.Pool{New: func() any {
	return &canon{out: make([]byte, 0, 1024), keys: make([]byte, 0, 128), members: make([]member, 0, 16)}
}}

// maxPooled bounds the buffers a pooled canon keeps.
const maxPooled = 256 << 10

// canon writes the canonical form of input that has already been validated,
// so it has no error paths; a bug would show up as wrong output, not as a
// panic on user input, because every index is still bounds-checked against
// validated structure.
type canon struct {
	d       []byte
	pos     int
	out     []byte
	keys    []byte   // decoded keys of the objects being built, as a stack
	members []member // members of the objects being built, as a stack
	tmp     []byte

	// jsonb selects PostgreSQL's jsonb text (see JSONBText) over
	// the canonical form; unsure is set when a number's jsonb text was
	// not derived.
	jsonb, unsure bool
}

// member locates one object member: its decoded key in canon.keys and its
// canonical `"key":value,` text in canon.out.
type member struct {
	k0, k1     int
	start, end int
}

func (c *canon) skipWS() {
	for c.pos < len(c.d) {
		switch c.d[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value() {
	switch c.d[c.pos] {
	case '{':
		c.object()
	case '[':
		c.array()
	case '"':
		c.out = c.appendString(c.out)
	case 't':
		c.out = append(c.out, "true"...)
		c.pos += 4
	case 'f':
		c.out = append(c.out, "false"...)
		c.pos += 5
	case 'n':
		c.out = append(c.out, "null"...)
		c.pos += 4
	default:
		num, end, _ := scanNumber(c.d, c.pos)
		if c.jsonb {
			var ok bool
			c.out, ok = appendNumericText(c.out, &num)
			c.unsure = c.unsure || !ok
		} else {
			c.out = appendCanonNumber(c.out, &num)
		}
		c.pos = end
	}
}

// sep is what follows each array element and object member but the last.
func (c *canon) sep() string {
	if c.jsonb {
		return ", "
	}
	return ","
}

// compareKeys orders object keys: by bytes in the canonical form, by length
// and then bytes in jsonb.
func (c *canon) compareKeys(a, b []byte) int {
	if c.jsonb && len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return bytes.Compare(a, b)
}

func (c *canon) array() {
	c.out = append(c.out, '[')
	c.pos++
	c.skipWS()
	if c.d[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return
	}
	for {
		c.value()
		c.skipWS()
		if c.d[c.pos] == ']' {
			c.pos++
			c.out = append(c.out, ']')
			return
		}
		c.out = append(c.out, c.sep()...)
		c.pos++
		c.skipWS()
	}
}

func (c *canon) object() {
	c.out = append(c.out, '{')
	region := len(c.out)
	base, keyBase := len(c.members), len(c.keys)
	c.pos++
	c.skipWS()
	for c.d[c.pos] != '}' {
		k0 := len(c.keys)
		c.keys = decodeString(c.keys, c.d, c.pos)
		start := len(c.out)
		c.out = c.appendString(c.out)
		c.skipWS()
		c.pos++ // ':'
		c.skipWS()
		c.out = append(c.out, ':')
		if c.jsonb {
			c.out = append(c.out, ' ')
		}
		c.value()
		c.out = append(c.out, c.sep()...)
		c.members = append(c.members, member{k0: k0, k1: len(c.keys), start: start, end: len(c.out)})
		c.skipWS()
		if c.d[c.pos] == ',' {
			c.pos++
			c.skipWS()
		}
	}
	c.pos++
	ms := c.members[base:]
	keys := c.keys
	key := func(m member) []byte { return keys[m.k0:m.k1] }
	ordered := true
	for i := 1; i < len(ms) && ordered; i++ {
		ordered = c.compareKeys(key(ms[i-1]), key(ms[i])) < 0
	}
	if !ordered {
		slices.SortStableFunc(ms, func(a, b member) int { return c.compareKeys(key(a), key(b)) })
		c.tmp = append(c.tmp[:0], c.out[region:]...)
		c.out = c.out[:region]
		for i, m := range ms {
			if i+1 < len(ms) && bytes.Equal(key(m), key(ms[i+1])) {
				continue // last wins
			}
			c.out = append(c.out, c.tmp[m.start-region:m.end-region]...)
		}
	}
	if len(c.out) > region {
		c.out = c.out[:len(c.out)-len(c.sep())] // the last member's
	}
	c.out = append(c.out, '}')
	c.members = c.members[:base]
	c.keys = c.keys[:keyBase]
}

// appendString appends the canonical encoding of the valid string at c.pos
// and moves past it.
func (c *canon) appendString(dst []byte) []byte {
	d := c.d
	i := c.pos + 1
	dst = append(dst, '"')
	for {
		j := i
		for j < len(d) && d[j] != '"' && d[j] != '\\' {
			j++
		}
		dst = append(dst, d[i:j]...)
		if d[j] == '"' {
			c.pos = j + 1
			return append(dst, '"')
		}
		r, n := decodeEscape(d, j)
		dst = appendCanonRune(dst, r)
		i = j + n
	}
}

// decodeString appends the decoded bytes of the valid string at d[pos].
func decodeString(dst, d []byte, pos int) []byte {
	i := pos + 1
	for {
		j := i
		for j < len(d) && d[j] != '"' && d[j] != '\\' {
			j++
		}
		dst = append(dst, d[i:j]...)
		if d[j] == '"' {
			return dst
		}
		r, n := decodeEscape(d, j)
		dst = utf8.AppendRune(dst, r)
		i = j + n
	}
}

// decodeEscape decodes the valid escape sequence at d[i] == '\\'.
func decodeEscape(d []byte, i int) (rune, int) {
	switch d[i+1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(d, i+2)
		if r >= 0xd800 && r < 0xdc00 {
			return (r-0xd800)<<10 | (hex4(d, i+8) - 0xdc00) + 0x10000, 12
		}
		return r, 6
	}
	return rune(d[i+1]), 2
}

const hexDigits = "0123456789abcdef"

func appendCanonRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
	}
	return utf8.AppendRune(dst, r)
}
