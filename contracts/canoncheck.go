package contracts

// A payload arrives in the canonical form its origin hashed and signed, and
// canonicalizing it again writes the very same bytes. The lexer proves that
// by reading alone, as it decodes or skips the payload, without writing a
// copy: it sets uncanon on anything canon would write otherwise. A value
// read with uncanon still clear is one canon writes back byte for byte.
//
// That is deliberately narrower than canonical form: it takes only values
// canon provably writes back unchanged, and leaves the rest (strings with
// escapes, above all) to canon itself. FuzzCanonicalValue holds it to canon.

// skipCanonical reads one value as skipRaw does (as skip does, without its
// path first) and also reports whether it is in canonical form, as canon
// would write it (see lexer.uncanon).
func (l *lexer) skipCanonical() (canonical, ok bool) {
	l.uncanon = false
	ok = l.skipRaw()
	return ok && !l.uncanon, ok
}

// isCanonicalInt reports whether a JSON number is written as canon writes
// it: an integer within ±2^53, with no leading zero, fraction, exponent or
// minus zero.
func isCanonicalInt(num []byte) bool {
	digits := num
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	// 2^53 has 16 digits.
	if len(digits) == 0 || len(digits) > 16 {
		return false
	}
	if digits[0] == '0' {
		return len(num) == 1
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n <= 1<<53
}

// utf16Less reports whether the member name a comes before b in the order
// of their UTF-16 code units, as compareUTF16 orders them. Both are valid
// UTF-8; names that differ first in an ASCII byte, as the contracts' all
// do, are ordered by that byte.
func utf16Less[T string | []byte](a, b T) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] == b[i] {
			continue
		}
		if a[i] < 0x80 && b[i] < 0x80 {
			return a[i] < b[i]
		}
		return compareUTF16(string(a), string(b)) < 0
	}
	return len(a) < len(b)
}
