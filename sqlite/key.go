package sqlite

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/persistkit/persist/internal/query"
)

// keySQL is the order-preserving key of the field at path (query.Key's
// bytes, as text), computed by SQLite's built-in functions alone. An index
// holds this expression, and every connection that writes to the table
// computes it, including the earlier portal's, which knows no function
// persist registers: a Go function here would make their writes fail with
// "no such function". It needs SQLite 3.38 or later, for the -> operator,
// which returns a number's JSON text as stored, so that the key is exact.
//
// The expression repeats the field's lookup instead of naming it once,
// because an index expression cannot bind a name; SQLite keeps the
// document's parse between the lookups of one row, and each costs about
// as much as a short string function. Ranks are literals, not char(),
// because SQLite computes constant subexpressions once per execution of
// every statement that holds the expression, which includes each write.
func keySQL(path []string) string {
	p := strings.Join(path, ".")
	if k, ok := keyCache.Load(p); ok {
		return k.(string)
	}
	k := strings.ReplaceAll(keyTemplate, pathMark, `'$."`+strings.Join(path, `"."`)+`"'`)
	if keyCacheLen.Add(1) <= maxKeyCache {
		keyCache.Store(p, k)
	}
	return k
}

// keyCache holds keySQL of the paths queries use, up to maxKeyCache of
// them: a statement writes the expression once per condition and sort
// key, and writing it afresh cost more than running an indexed query.
var (
	keyCache    sync.Map
	keyCacheLen atomic.Int64
)

const maxKeyCache = 1024

// keyTemplate is keySQL with pathMark for the path literal. A path's keys
// are letters, digits, '_' and '-' (query.ParsePath), so the mark occurs
// nowhere else.
var keyTemplate = keyExpr(pathMark)

const pathMark = "\x00"

func keyExpr(p string) string {
	j := `(data -> ` + p + `)`
	return `CASE WHEN NOT json_valid(data) THEN ` + rankLit(query.RankMissing) + ` ELSE CASE json_type(data, ` + p + `)` +
		` WHEN 'text' THEN ` + rankLit(query.RankString) + ` || (data ->> ` + p + `)` +
		` WHEN 'integer' THEN ` + integerKeySQL(j) +
		` WHEN 'real' THEN ` + realKeySQL(j) +
		` WHEN 'null' THEN ` + rankLit(query.RankNull) +
		` WHEN 'false' THEN ` + rankLit(query.RankFalse) +
		` WHEN 'true' THEN ` + rankLit(query.RankTrue) +
		` WHEN 'array' THEN ` + rankLit(query.RankArray) +
		` WHEN 'object' THEN ` + rankLit(query.RankObject) +
		` ELSE ` + rankLit(query.RankMissing) + ` END END`
}

// rankLit is the literal of a key's first byte; with suffix, of its first
// bytes.
func rankLit(r query.Rank, suffix ...string) string {
	return `'` + string(r.KeyByte()) + strings.Join(suffix, "") + `'`
}

// Number keys: the rank, the sign class ('1' negative, '2' zero, '3'
// positive), the exponent E of 0.D×10^E as 16 digits, offset (negated for
// a negative number), then the digits D (complemented, and closed by '~',
// for a negative number); see query.Key.
var (
	negLit  = rankLit(query.RankNumber, "1")
	zeroLit = rankLit(query.RankNumber, "2")
	posLit  = rankLit(query.RankNumber, "3")
	offset  = strconv.Itoa(query.ExpOffset)
)

func numberKey(neg bool, exp, digits string) string {
	if neg {
		return negLit + ` || printf('%016d', ` + offset + ` - ` + exp + `) || ` + complement(digits) + ` || '~'`
	}
	return posLit + ` || printf('%016d', ` + offset + ` + ` + exp + `) || ` + digits
}

// integerKeySQL is the key of j, the text of a JSON integer, which has no
// leading zeros: its exponent is its count of digits, its digits those
// without trailing zeros. The sign is read once, as the CASE's operand.
func integerKeySQL(j string) string {
	abs := `substr(` + j + `, 2)`
	return `CASE substr(` + j + `, 1, 1) WHEN '0' THEN ` + zeroLit +
		` WHEN '-' THEN CASE ` + j + ` WHEN '-0' THEN ` + zeroLit + ` ELSE ` +
		numberKey(true, `length(`+abs+`)`, `rtrim(`+abs+`, '0')`) + ` END` +
		` ELSE ` + numberKey(false, `length(`+j+`)`, `rtrim(`+j+`, '0')`) + ` END`
}

// realKeySQL is the key of j, the text of any other JSON number. Its
// mantissa m is what comes before any exponent (found with an 'e'
// appended, so that a missing one is found at the end), and the written
// exponent what follows it, 0 when empty. The exponent of 0.D×10^E is
// then the written one, plus the characters before the point, less the
// leading zeros; both counts include a minus sign, which cancels. It is
// clamped to ±query.MaxExp. D is the digits without the point, the sign
// and leading or trailing zeros, and empty for zero.
//
// The expression is kept short and shallow. SQLite prepares every write
// to the table with it and pays for its size on each execution, whichever
// branch runs; and SQLite before 3.46 refuses a statement nested deeper
// than its parser's fixed stack ("parser stack overflow"), so a library
// that could not parse the index could not open the file.
func realKeySQL(j string) string {
	ePos := `instr(replace(` + j + `, 'E', 'e') || 'e', 'e')`
	m := `substr(` + j + `, 1, ` + ePos + ` - 1)`
	written := `CAST(substr(` + j + `, ` + ePos + ` + 1) AS INTEGER)`
	all := `replace(` + m + `, '.', '')`
	sig := `ltrim(` + all + `, '-0')`
	digits := `rtrim(` + sig + `, '0')`
	maxExp := strconv.Itoa(query.MaxExp)
	exp := `max(min(` + written + ` + instr(` + m + ` || '.', '.') - 1 - length(` + all + `) + length(` + sig + `), ` + maxExp + `), -` + maxExp + `)`
	neg := `(substr(` + j + `, 1, 1) = '-')`
	return `CASE ` + digits + ` WHEN '' THEN ` + zeroLit +
		` ELSE '` + string(query.RankNumber.KeyByte()) + `' || CASE WHEN ` + neg + ` THEN '1' ELSE '3' END` +
		` || printf('%016d', ` + offset + ` + (1 - 2 * ` + neg + `) * ` + exp + `)` +
		` || CASE WHEN ` + neg + ` THEN ` + complement(digits) + ` || '~' ELSE ` + digits + ` END END`
}

// complement maps each digit d of the text s to the letter 'a'+('9'-d),
// which orders the digits in reverse, in one replace per digit.
func complement(s string) string {
	for d := '0'; d <= '9'; d++ {
		s = `replace(` + s + `, '` + string(d) + `', '` + string('a'+'9'-d) + `')`
	}
	return s
}
