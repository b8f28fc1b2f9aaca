package query

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"strings"

	"github.com/persistkit/persist/internal/jsonx"
)

// Key returns the order-preserving key of the JSON value raw, nil for a
// missing field: comparing two keys as bytes orders their values as
// persist.Query documents, and two keys are equal exactly when the values
// sort as equal. It is what SQLite indexes and compares.
//
// The first byte is the rank. A number continues with its sign class
// (negative 1, zero 2, positive 3), then for a positive number the decimal
// exponent E of 0.D×10^E as 8 big-endian bytes offset by 2^63, then the
// significant digits D as ASCII; a negative one has the exponent negated
// and the digits complemented ('9'-d), and ends with 0xFF so that a longer
// digit string (a larger magnitude, so a smaller number) sorts first. A
// string continues with its UTF-8 bytes. Other ranks are the rank alone.
//
// A value that is not valid JSON (which persist never stores, but an
// earlier writer might have) gets the key of a missing field where Key
// notices: it checks only what it decodes.
//
// Key is on the path of every row a query compares, so it decodes only
// what the key needs: a string without escapes is its own bytes, a number
// is only canonicalised, and arrays and objects are not read past their
// first byte.
func Key[T string | []byte](raw T) []byte {
	i, j := 0, len(raw)
	for i < j && isSpace(raw[i]) {
		i++
	}
	for j > i && isSpace(raw[j-1]) {
		j--
	}
	if i == j {
		return []byte{byte(RankMissing)}
	}
	raw = raw[i:j]
	switch raw[0] {
	case 'n':
		return []byte{byte(RankNull)}
	case 'f':
		return []byte{byte(RankFalse)}
	case 't':
		return []byte{byte(RankTrue)}
	case '[':
		return []byte{byte(RankArray)}
	case '{':
		return []byte{byte(RankObject)}
	case '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return []byte{byte(RankMissing)}
		}
		body := raw[1 : len(raw)-1]
		if !containsByte(body, '\\') {
			return append([]byte{byte(RankString)}, body...)
		}
		var str string
		if err := json.Unmarshal([]byte(raw), &str); err != nil {
			return []byte{byte(RankMissing)}
		}
		return append([]byte{byte(RankString)}, str...)
	}
	c, err := jsonx.CanonicalNumber(string(raw))
	if err != nil {
		return []byte{byte(RankMissing)}
	}
	return numberKey(c)
}

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
		return append([]byte{byte(RankString)}, v.Str...)
	}
	return []byte{byte(v.Rank)}
}

// numberKey encodes a canonical number (jsonx.CanonicalNumber's form).
func numberKey(c string) []byte {
	if c == "0" {
		return []byte{byte(RankNumber), 2}
	}
	neg := strings.HasPrefix(c, "-")
	digits, exp := decimalParts(strings.TrimPrefix(c, "-"))
	out := make([]byte, 0, 11+len(digits))
	out = append(out, byte(RankNumber))
	if !neg {
		out = append(out, 3)
		out = binary.BigEndian.AppendUint64(out, uint64(exp)^(1<<63))
		return append(out, digits...)
	}
	out = append(out, 1)
	out = binary.BigEndian.AppendUint64(out, uint64(-exp)^(1<<63))
	for i := 0; i < len(digits); i++ {
		out = append(out, '9'-digits[i]+'0')
	}
	return append(out, 0xFF)
}

// decimalParts returns the significant digits D and exponent E of a
// positive canonical number, its value being 0.D × 10^E.
func decimalParts(c string) (string, int64) {
	mant, expText, sci := strings.Cut(c, "e")
	var exp int64
	if sci {
		e, ok := new(big.Int).SetString(expText, 10)
		switch {
		case !ok:
		case e.IsInt64() && e.Int64() > math.MinInt64/2 && e.Int64() < math.MaxInt64/2:
			exp = e.Int64()
		case e.Sign() > 0:
			exp = math.MaxInt64 / 2 // beyond anything jsonx accepts
		default:
			exp = math.MinInt64 / 2
		}
	}
	ip, fp, _ := strings.Cut(mant, ".")
	all := ip + fp
	lead := len(all) - len(strings.TrimLeft(all, "0"))
	digits := strings.TrimRight(all[lead:], "0")
	// mant = ip.fp = 0.(ip fp) × 10^len(ip); leading zeros lower it.
	return digits, exp + int64(len(ip)) - int64(lead)
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
