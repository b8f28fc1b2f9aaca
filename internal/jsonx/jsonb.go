package jsonx

// maxNumericShift bounds the exponent appendNumericText expands: a number
// written with a larger one (1e400) gets no jsonb text here, though
// PostgreSQL would print it, so that the text stays about as long as what
// was written.
const maxNumericShift = 64

// JSONBText appends to dst the text PostgreSQL prints for the JSON value in
// b once it is stored as jsonb (jsonb_out): keys ordered by length and then by
// bytes, the last of duplicate keys kept, ", " between items and ": " after
// keys, strings escaped as the canonical form escapes them, and numbers as
// numeric prints them: without exponent, with as many fraction digits as
// were written less the exponent (1.50 stays 1.50, 1.5e1 becomes 15, 1e-2
// becomes 0.01) and zero without a sign.
//
// A target that stores what PostgreSQL printed holds exactly these bytes,
// so comparing them with a source record's JSONBText proves the two equal
// without canonicalising and hashing both. The converse does not hold:
// different bytes may still be equal values, which Digest decides. ok is
// false when b is not valid (see Validate) or holds a number whose
// exponent is beyond maxNumericShift; dst is then returned unchanged.
// JSONBText allocates nothing once warm, like Digest.
func JSONBText(dst, b []byte) (out []byte, ok bool) {
	if Validate(b) != nil {
		return dst, false
	}
	c := canonPool.Get().(*canon)
	own := c.out
	c.d, c.pos, c.out, c.jsonb, c.unsure = b, 0, dst, true, false
	c.skipWS()
	c.value()
	out, ok = c.out, !c.unsure
	c.out, c.jsonb = own, false
	c.release()
	if !ok {
		return dst, false
	}
	return out, true
}

// appendNumericText appends what PostgreSQL's numeric_out prints for the
// number numeric_in reads from num's spelling.
func appendNumericText(dst []byte, num *numParts) ([]byte, bool) {
	if len(num.expDigits) > 3 {
		return dst, false
	}
	var exp int
	for _, ch := range num.expDigits {
		exp = exp*10 + int(ch-'0')
	}
	if exp > maxNumericShift {
		return dst, false
	}
	if num.expNeg {
		exp = -exp
	}
	intd, frac := num.intd, num.frac
	n := len(intd) + len(frac)
	at := func(i int) byte { // digit i of intd+frac, 0 beyond either end
		switch {
		case i < 0 || i >= n:
			return '0'
		case i < len(intd):
			return intd[i]
		}
		return frac[i-len(intd)]
	}
	point := len(intd) + exp       // digits before the point
	scale := max(len(frac)-exp, 0) // digits after it, as numeric keeps them
	first := 0                     // first significant integer digit
	for first < point && at(first) == '0' {
		first++
	}
	zero := true
	for i := range n {
		if at(i) != '0' {
			zero = false
			break
		}
	}
	if num.neg && !zero {
		dst = append(dst, '-')
	}
	if first >= point {
		dst = append(dst, '0')
	}
	for i := first; i < point; i++ {
		dst = append(dst, at(i))
	}
	if scale > 0 {
		dst = append(dst, '.')
		for i := point; i < point+scale; i++ {
			dst = append(dst, at(i))
		}
	}
	return dst, true
}
