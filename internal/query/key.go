package query

import (
	"encoding/json"
	"math/big"
	"strings"

	"github.com/persistkit/persist/internal/jsonx"
)

// Key returns the order-preserving key of the JSON value raw, nil for a
// missing field: comparing two keys as bytes orders their values as
// persist.Query documents, and two keys are equal exactly when the values
// sort as equal. SQLite computes the same bytes from a stored document
// with its own built-in functions, in the expression its indexes hold (see
// the sqlite package, whose tests compare that expression with Key); Go
// computes them for a query's operands (Value.Key).
//
// The first byte is the rank, as an ASCII digit (Rank.KeyByte). A number
// continues with its sign class as an ASCII digit (negative '1', zero '2',
// positive '3'), then for a positive number the decimal exponent E of
// 0.D×10^E, offset by ExpOffset and written as 16 ASCII digits, then the
// significant digits D as ASCII; a negative one has the exponent negated
// and each digit d replaced by the letter 'a'+('9'-d), which reverses
// their order, and ends with '~' so that a longer digit string (a larger
// magnitude, so a smaller number) sorts first. E is clamped to ±MaxExp. A
// string continues with its UTF-8 bytes. Other ranks are the rank alone.
// Every byte is ASCII apart from a string's, so SQLite builds the key as
// text from literals, printf and replace, and compares it with a key Go
// binds as text, byte by byte.
//
// A value that is not valid JSON (which persist never stores, but an
// earlier writer might have) gets the key of a missing field where Key
// notices: it checks only what it decodes.
func Key[T string | []byte](raw T) []byte {
	i, j := 0, len(raw)
	for i < j && isSpace(raw[i]) {
		i++
	}
	for j > i && isSpace(raw[j-1]) {
		j--
	}
	if i == j {
		return []byte{RankMissing.KeyByte()}
	}
	raw = raw[i:j]
	switch raw[0] {
	case 'n':
		return []byte{RankNull.KeyByte()}
	case 'f':
		return []byte{RankFalse.KeyByte()}
	case 't':
		return []byte{RankTrue.KeyByte()}
	case '[':
		return []byte{RankArray.KeyByte()}
	case '{':
		return []byte{RankObject.KeyByte()}
	case '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return []byte{RankMissing.KeyByte()}
		}
		body := raw[1 : len(raw)-1]
		if !containsByte(body, '\\') {
			return append([]byte{RankString.KeyByte()}, body...)
		}
		var str string
		if err := json.Unmarshal([]byte(raw), &str); err != nil {
			return []byte{RankMissing.KeyByte()}
		}
		return append([]byte{RankString.KeyByte()}, str...)
	}
	c, err := jsonx.CanonicalNumber(string(raw))
	if err != nil {
		return []byte{RankMissing.KeyByte()}
	}
	return numberKey(c)
}

// KeyByte is the first byte of the keys of rank r: an ASCII digit, so that
// SQL can write it as a literal.
func (r Rank) KeyByte() byte { return '0' + byte(r) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func containsByte[T string | []byte](s T, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func valueKey(v Value) []byte {
	switch v.Rank {
	case RankNumber:
		return numberKey(v.Num)
	case RankString:
		return append([]byte{RankString.KeyByte()}, v.Str...)
	}
	return []byte{v.Rank.KeyByte()}
}

// ExpOffset and MaxExp bound a number key's exponent field: E is clamped
// to ±MaxExp and stored as ExpOffset±E in 16 decimal digits.
const (
	ExpOffset = 5_000_000_000_000_000
	MaxExp    = 1_000_000_000_000_000
)

// numberKey encodes a canonical number (jsonx.CanonicalNumber's form).
func numberKey(c string) []byte {
	if c == "0" {
		return []byte{RankNumber.KeyByte(), '2'}
	}
	neg := strings.HasPrefix(c, "-")
	digits, exp := decimalParts(strings.TrimPrefix(c, "-"))
	out := make([]byte, 0, 18+len(digits)+1)
	out = append(out, RankNumber.KeyByte())
	if !neg {
		out = append(out, '3')
		out = appendExp(out, ExpOffset+exp)
		return append(out, digits...)
	}
	out = append(out, '1')
	out = appendExp(out, ExpOffset-exp)
	for i := 0; i < len(digits); i++ {
		out = append(out, 'a'+'9'-digits[i])
	}
	return append(out, '~')
}

// appendExp writes n, which lies in [ExpOffset-MaxExp, ExpOffset+MaxExp],
// as 16 decimal digits.
func appendExp(out []byte, n int64) []byte {
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return append(out, b[:]...)
}

// decimalParts returns the significant digits D and exponent E of a
// positive canonical number, its value being 0.D × 10^E, with E clamped to
// ±MaxExp.
func decimalParts(c string) (string, int64) {
	mant, expText, sci := strings.Cut(c, "e")
	exp := new(big.Int)
	if sci {
		exp.SetString(expText, 10)
	}
	ip, fp, _ := strings.Cut(mant, ".")
	all := ip + fp
	lead := len(all) - len(strings.TrimLeft(all, "0"))
	digits := strings.TrimRight(all[lead:], "0")
	// mant = ip.fp = 0.(ip fp) × 10^len(ip); leading zeros lower it.
	exp.Add(exp, big.NewInt(int64(len(ip))-int64(lead)))
	switch {
	case exp.Cmp(big.NewInt(MaxExp)) > 0:
		return digits, MaxExp
	case exp.Cmp(big.NewInt(-MaxExp)) < 0:
		return digits, -MaxExp
	}
	return digits, exp.Int64()
}

// Canon returns the canonical JSON of raw, for comparing arrays and
// objects as whole values, or nil for a missing or invalid value.
func Canon(raw []byte) []byte {
	if raw == nil {
		return nil
	}
	c, err := jsonx.Canonical(raw)
	if err != nil {
		return nil
	}
	return c
}

// Lookup returns the raw JSON at path in the document doc, nil when the
// field is missing. Duplicate keys resolve last-wins, as both backends
// store them.
func Lookup(doc []byte, path []string) []byte {
	cur := json.RawMessage(doc)
	for _, k := range path {
		if len(cur) == 0 || firstByte(cur) != '{' {
			return nil
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil
		}
		v, ok := m[k]
		if !ok {
			return nil
		}
		cur = v
	}
	return cur
}

func firstByte(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}
