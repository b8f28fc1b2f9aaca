package sqlite

import (
	"strconv"
	"strings"

	"github.com/persistkit/persist/internal/query"
)

// keySQL is the order-preserving key of the field at path (query.Key's
// bytes), computed by SQLite's built-in functions alone. An index holds
// this expression, and every connection that writes to the table computes
// it, including the earlier portal's, which knows no function persist
// registers: a Go function here would make their writes fail with "no
// such function". It needs SQLite 3.38 or later, for the -> operator,
// which returns a number's JSON text as stored, so that the key is exact.
//
// The expression repeats the field's lookup instead of naming it once,
// because an index expression cannot bind a name; SQLite keeps the
// document's parse between the calls of one row.
func keySQL(path []string) string {
	p := `'$."` + strings.Join(path, `"."`) + `"'`
	j := `(data -> ` + p + `)`
	return `CAST(CASE WHEN NOT json_valid(data) THEN char(1) ELSE CASE json_type(data, ` + p + `)` +
		` WHEN 'text' THEN char(6) || (data ->> ` + p + `)` +
		` WHEN 'integer' THEN ` + numberKeySQL(j, true) +
		` WHEN 'real' THEN ` + numberKeySQL(j, false) +
		` WHEN 'null' THEN char(2) WHEN 'false' THEN char(3) WHEN 'true' THEN char(4)` +
		` WHEN 'array' THEN char(7) WHEN 'object' THEN char(8) ELSE char(1) END END AS BLOB)`
}

// numberKeySQL is query.Key of the JSON number text j, which json_type
// calls an integer or a real. An integer's digits are its text without
// sign or trailing zeros, and its exponent their count (JSON writes no
// leading zeros). A real's mantissa m is j before any exponent; its
// exponent is the written exponent, plus the digits before the point,
// less the leading zeros (both counts include a minus sign, which
// cancels).
//
// The expression is kept shallow: SQLite before 3.46 refuses a statement
// nested deeper than its parser's fixed stack ("parser stack overflow"),
// and a library that cannot parse the index cannot open the file.
func numberKeySQL(j string, integer bool) string {
	sig := `ltrim(` + j + `, '-0')`
	digits := `rtrim(` + sig + `, '0')`
	exp := `length(` + sig + `)`
	if !integer {
		ePos := `(instr(` + j + `, 'e') + instr(` + j + `, 'E'))`
		mant := `CASE WHEN ` + ePos + ` THEN substr(` + j + `, 1, ` + ePos + ` - 1) ELSE ` + j + ` END`
		all := `replace(` + mant + `, '.', '')`
		sig = `ltrim(` + all + `, '-0')`
		digits = `rtrim(` + sig + `, '0')`
		dot := `instr(` + mant + `, '.')`
		intLen := `CASE WHEN ` + dot + ` THEN ` + dot + ` - 1 ELSE length(` + mant + `) END`
		written := `CASE WHEN ` + ePos + ` THEN CAST(substr(` + j + `, ` + ePos + ` + 1) AS INTEGER) ELSE 0 END`
		maxExp := strconv.Itoa(query.MaxExp)
		exp = `max(min(` + written + ` + ` + intLen + ` - length(` + all + `) + length(` + sig + `), ` + maxExp + `), -` + maxExp + `)`
	}
	off := strconv.Itoa(query.ExpOffset)
	return `CASE WHEN ` + sig + ` = '' THEN char(5) || '2'` +
		` WHEN substr(` + j + `, 1, 1) = '-' THEN char(5) || '1' || printf('%016d', ` + off + ` - ` + exp + `) || ` + complement(digits) + ` || '~'` +
		` ELSE char(5) || '3' || printf('%016d', ` + off + ` + ` + exp + `) || ` + digits + ` END`
}

// complement maps each digit d of the text s to the letter 'a'+('9'-d),
// which orders the digits in reverse, in one replace per digit.
func complement(s string) string {
	for d := '0'; d <= '9'; d++ {
		s = `replace(` + s + `, '` + string(d) + `', '` + string('a'+'9'-d) + `')`
	}
	return s
}
