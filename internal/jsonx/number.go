package jsonx

import (
	"fmt"
	"math/big"
	"strconv"
)

// maxPadding is the largest number of non-significant zeros a canonical
// number is written with in plain notation; beyond it the exponent form
// keeps the output proportional to the significant digits.
const maxPadding = 20

// CanonicalNumber returns the canonical spelling of the JSON number literal
// s. The spelling depends only on the exact decimal value, so two literals
// denote the same number exactly when their canonical spellings are equal.
//
// With the value written as ±D×10^e, where D is the digit string with no
// leading or trailing zeros, the canonical form is:
//
//   - "0" for any zero, including "-0" and "0.000e5";
//   - otherwise a '-' for negative values, then plain decimal notation when
//     it needs at most 20 zeros that are not in D: "100", "1.1", "0.0015",
//     "12345678901234567890", "100000000000000000000" (1e20);
//   - otherwise d[.ddd]e[-]x, the mantissa having exactly one digit before
//     the point and x being the decimal exponent without '+' or leading
//     zeros: "1e21", "1.5e400", "-2.5e-30".
//
// A fraction never ends in 0, and the integer part has no leading zeros.
// CanonicalNumber does not apply the PostgreSQL limits that Validate
// enforces; its output stays bounded by the length of s even for exponents
// that do not fit in 64 bits.
func CanonicalNumber(s string) (string, error) {
	d := []byte(s)
	if len(d) == 0 {
		return "", fmt.Errorf("jsonx: empty string is not a JSON number")
	}
	num, end, err := scanNumber(d, 0)
	if err != nil {
		return "", err
	}
	if end != len(d) {
		return "", fmt.Errorf("jsonx: invalid JSON number %q: unexpected %s at offset %d", s, printable(d[end]), end)
	}
	return string(appendCanonNumber(nil, &num)), nil
}

// appendCanonNumber appends the canonical spelling of an already scanned
// number. It reads the exponent from its digits rather than num.exp so that
// exponents too large for int64 stay exact.
func appendCanonNumber(dst []byte, num *numParts) []byte {
	intd, frac, expDigits := num.intd, num.frac, num.expDigits
	// The significant digits are intd+frac without leading and trailing
	// zeros; find them without concatenating.
	total := len(intd) + len(frac)
	at := func(i int) byte {
		if i < len(intd) {
			return intd[i]
		}
		return frac[i-len(intd)]
	}
	lead := 0
	for lead < total && at(lead) == '0' {
		lead++
	}
	if lead == total {
		return append(dst, '0')
	}
	trail := 0
	for at(total-1-trail) == '0' {
		trail++
	}
	n := total - lead - trail
	// The value is D × 10^(exp + c).
	c := int64(trail - len(frac))

	for len(expDigits) > 1 && expDigits[0] == '0' {
		expDigits = expDigits[1:]
	}
	if num.neg {
		dst = append(dst, '-')
	}
	appendD := func(dst []byte, from, to int) []byte {
		for i := lead + from; i < lead+to; i++ {
			dst = append(dst, at(i))
		}
		return dst
	}
	appendSci := func(dst []byte, x string) []byte {
		dst = appendD(dst, 0, 1)
		if n > 1 {
			dst = append(dst, '.')
			dst = appendD(dst, 1, n)
		}
		dst = append(dst, 'e')
		return append(dst, x...)
	}

	if len(expDigits) > 15 {
		// |exp| ≥ 10^15 dwarfs any digit count, so the plain form would need
		// far more than maxPadding zeros: use big arithmetic for the exponent.
		x, _ := new(big.Int).SetString(string(expDigits), 10)
		if num.expNeg {
			x.Neg(x)
		}
		x.Add(x, big.NewInt(c+int64(n)-1))
		return appendSci(dst, x.String())
	}
	var exp int64
	for _, ch := range expDigits {
		exp = exp*10 + int64(ch-'0')
	}
	if num.expNeg {
		exp = -exp
	}
	e := exp + c
	k := int64(n) + e // digits before the point when positive
	switch {
	case e >= 0 && e <= maxPadding:
		dst = appendD(dst, 0, n)
		for range e {
			dst = append(dst, '0')
		}
		return dst
	case e < 0 && k > 0:
		dst = appendD(dst, 0, int(k))
		dst = append(dst, '.')
		return appendD(dst, int(k), n)
	case e < 0 && -k <= maxPadding:
		dst = append(dst, '0', '.')
		for range -k {
			dst = append(dst, '0')
		}
		return appendD(dst, 0, n)
	}
	return appendSci(dst, strconv.FormatInt(k-1, 10))
}
