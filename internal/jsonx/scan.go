package jsonx

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays that Validate
// accepts. It bounds the recursion of every parser in this package.
const MaxDepth = 1000

// MaxIntegerDigits is the largest number of digits before the decimal point
// that PostgreSQL numeric can store.
const MaxIntegerDigits = 131072

// MaxScale is the largest number of digits after the decimal point that
// PostgreSQL numeric can store.
const MaxScale = 16383

// MaxExponent is the largest exponent magnitude PostgreSQL 15's numeric_in
// accepts: it rejects an exponent e with e >= INT_MAX/2 or e <= -(INT_MAX/2)
// (1073741823), before looking at the digits, so even 0e1073741823 is
// refused. Whether a smaller exponent fits is then decided by
// MaxIntegerDigits and MaxScale.
const MaxExponent = 1<<30 - 2

// plain marks the bytes that may appear in a string without further checks,
// so the common ASCII case is a single table lookup per byte.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanner validates one value and leaves pos just after it. It allocates
// only when it reports an error.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// contextError puts a caller's context after the package prefix while
// keeping the underlying error reachable with errors.Is and errors.As.
type contextError struct {
	context string
	err     error
}

func (e *contextError) Error() string {
	return "jsonx: " + e.context + ": " + strings.TrimPrefix(e.err.Error(), "jsonx: ")
}

func (e *contextError) Unwrap() error { return e.err }

func syntaxErr(off int, format string, args ...any) error {
	return fmt.Errorf("jsonx: invalid JSON at offset %d: %s", off, fmt.Sprintf(format, args...))
}

// describe names the byte at off for an error message without echoing
// arbitrary binary into it.
func (s *scanner) describe(off int) string {
	if off >= len(s.data) {
		return "end of input"
	}
	c := s.data[off]
	if c > 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// document validates a whole input: one value with optional surrounding
// whitespace.
func (s *scanner) document(wantObject bool) error {
	if len(s.data) >= 3 && s.data[0] == 0xef && s.data[1] == 0xbb && s.data[2] == 0xbf {
		return syntaxErr(0, "byte order mark is not allowed")
	}
	s.skipWS()
	if s.pos >= len(s.data) {
		return syntaxErr(s.pos, "unexpected end of input, expected a value")
	}
	if wantObject && s.data[s.pos] != '{' {
		if kind := kindAt(s.data[s.pos]); kind != "" {
			return fmt.Errorf("jsonx: expected a JSON object at offset %d, found %s", s.pos, kind)
		}
		return syntaxErr(s.pos, "unexpected %s, expected '{'", s.describe(s.pos))
	}
	if err := s.value(); err != nil {
		return err
	}
	s.skipWS()
	if s.pos != len(s.data) {
		return syntaxErr(s.pos, "unexpected %s after top-level value", s.describe(s.pos))
	}
	return nil
}

func kindAt(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return ""
}

func (s *scanner) value() error {
	if s.pos >= len(s.data) {
		return syntaxErr(s.pos, "unexpected end of input, expected a value")
	}
	switch c := s.data[s.pos]; c {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		return s.str()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number()
		}
		return syntaxErr(s.pos, "unexpected %s, expected a value", s.describe(s.pos))
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return syntaxErr(s.pos, "invalid literal, expected %s", lit)
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > MaxDepth {
		return fmt.Errorf("jsonx: nesting deeper than %d levels at offset %d", MaxDepth, s.pos)
	}
	return nil
}

func (s *scanner) object() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return syntaxErr(s.pos, "unexpected %s, expected a string key", s.describe(s.pos))
		}
		if err := s.str(); err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return syntaxErr(s.pos, "unexpected %s, expected ':' after object key", s.describe(s.pos))
		}
		s.pos++
		s.skipWS()
		if err := s.value(); err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return syntaxErr(s.pos, "unexpected end of input, expected ',' or '}'")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.skipWS()
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return syntaxErr(s.pos, "unexpected %s, expected ',' or '}'", s.describe(s.pos))
		}
	}
}

func (s *scanner) array() error {
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if err := s.value(); err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return syntaxErr(s.pos, "unexpected end of input, expected ',' or ']'")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.skipWS()
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return syntaxErr(s.pos, "unexpected %s, expected ',' or ']'", s.describe(s.pos))
		}
	}
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// hex4 decodes the four hex digits at d[i:i+4], or returns -1.
func hex4(d []byte, i int) rune {
	if i+4 > len(d) {
		return -1
	}
	var r rune
	for _, c := range d[i : i+4] {
		v := hexVal(c)
		if v < 0 {
			return -1
		}
		r = r<<4 | v
	}
	return r
}

// str validates the string starting at the opening quote at s.pos.
func (s *scanner) str() error {
	d := s.data
	i := s.pos + 1
	for {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			return syntaxErr(s.pos, "unterminated string")
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return nil
		case c == '\\':
			n, err := s.escape(i)
			if err != nil {
				return err
			}
			i += n
		case c == 0:
			return fmt.Errorf("jsonx: string contains \\u0000 at offset %d", i)
		case c < 0x20:
			return syntaxErr(i, "control character 0x%02x in string must be escaped", c)
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return fmt.Errorf("jsonx: invalid UTF-8 in string at offset %d", i)
			}
			i += size
		}
	}
}

// escape validates the escape sequence at d[i] == '\\' and returns its
// length.
func (s *scanner) escape(i int) (int, error) {
	d := s.data
	if i+1 >= len(d) {
		return 0, syntaxErr(s.pos, "unterminated string")
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, syntaxErr(i, "invalid escape \\%s in string", printable(d[i+1]))
	}
	r := hex4(d, i+2)
	switch {
	case r < 0:
		return 0, syntaxErr(i, "invalid \\u escape in string")
	case r == 0:
		return 0, fmt.Errorf("jsonx: string contains \\u0000 at offset %d", i)
	case r >= 0xdc00 && r < 0xe000:
		return 0, fmt.Errorf("jsonx: lone low surrogate \\u%04x in string at offset %d", r, i)
	case r >= 0xd800 && r < 0xdc00:
		if i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
			if r2 := hex4(d, i+8); r2 >= 0xdc00 && r2 < 0xe000 {
				return 12, nil
			}
		}
		return 0, fmt.Errorf("jsonx: unpaired high surrogate \\u%04x in string at offset %d", r, i)
	}
	return 6, nil
}

func printable(c byte) string {
	if c > 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("<0x%02x>", c)
}

// number validates the number at s.pos, including the PostgreSQL numeric
// limits.
func (s *scanner) number() error {
	start := s.pos
	num, end, err := scanNumber(s.data, start)
	if err != nil {
		return err
	}
	s.pos = end
	return checkNumberRange(num.intd, num.frac, num.exp, start)
}

// numParts is a scanned number literal, split into the pieces that the
// range check and the canonical spelling need.
type numParts struct {
	neg       bool
	intd      []byte // integer digits as written
	frac      []byte // fraction digits as written, nil without '.'
	expDigits []byte // exponent digits as written, nil without 'e'
	expNeg    bool
	exp       int64 // saturates beyond MaxExponent, which suffices to reject it
}

// scanNumber parses the number grammar at d[i:].
func scanNumber(d []byte, i int) (num numParts, end int, err error) {
	start := i
	if i < len(d) && d[i] == '-' {
		num.neg = true
		i++
	}
	is := i
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return num, 0, syntaxErr(i, "invalid number starting at offset %d, expected a digit", start)
	}
	num.intd = d[is:i]
	if i < len(d) && d[i] == '.' {
		i++
		fs := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == fs {
			return num, 0, syntaxErr(i, "invalid number starting at offset %d, expected a digit after '.'", start)
		}
		num.frac = d[fs:i]
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			num.expNeg = d[i] == '-'
			i++
		}
		es := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			if num.exp <= MaxExponent {
				num.exp = num.exp*10 + int64(d[i]-'0')
			}
			i++
		}
		if i == es {
			return num, 0, syntaxErr(i, "invalid number starting at offset %d, expected a digit in exponent", start)
		}
		num.expDigits = d[es:i]
		if num.expNeg {
			num.exp = -num.exp
		}
	}
	return num, i, nil
}

func checkNumberRange(intd, frac []byte, exp int64, off int) error {
	if exp == 0 && len(frac) <= MaxScale && len(intd) <= MaxIntegerDigits {
		return nil
	}
	if exp > MaxExponent || exp < -MaxExponent {
		return fmt.Errorf("jsonx: number at offset %d has an exponent beyond ±%d", off, MaxExponent)
	}
	if scale := int64(len(frac)) - exp; scale > MaxScale {
		return fmt.Errorf("jsonx: number at offset %d has %d digits after the decimal point, more than %d", off, scale, MaxScale)
	}
	var digits int64
	if j := firstNonZero(intd); j >= 0 {
		digits = int64(len(intd)-j) + exp
	} else if j := firstNonZero(frac); j >= 0 {
		digits = exp - int64(j)
	}
	if digits > MaxIntegerDigits {
		return fmt.Errorf("jsonx: number at offset %d has %d digits before the decimal point, more than %d", off, digits, MaxIntegerDigits)
	}
	return nil
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != '0' {
			return i
		}
	}
	return -1
}
