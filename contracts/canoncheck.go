package contracts

// A payload arrives in the canonical form its origin hashed and signed, and
// canonicalizing it again writes the very same bytes. canonicalValue proves
// that by reading alone, without writing a copy or interning member names:
// a destination reads each payload this way once (DecodeEnvelope).
//
// It is deliberately narrower than canonical form: it takes only documents
// canon provably writes back unchanged, and leaves the rest (strings with
// escapes, above all) to canon itself. FuzzCanonicalValue holds it to canon.

// canonicalValue reads one JSON value that canon would write back byte for
// byte: no white space anywhere, object members in UTF-16 order of their
// names with no name twice, strings without escapes in valid UTF-8, and
// numbers that are integers within ±2^53 in their shortest form. It returns
// false, having read part of the value, on anything else, canonical or not,
// and then leaves the lexer's position and error undefined: the caller
// restores the lexer and canonicalizes the value instead.
func (l *lexer) canonicalValue() bool {
	if l.pos >= len(l.data) {
		return false
	}
	switch l.data[l.pos] {
	case '{':
		return l.canonicalObject()
	case '[':
		return l.canonicalArray()
	case '"':
		_, plain, ok := l.rawString()
		return ok && plain
	case 't', 'f':
		_, ok := l.bool()
		return ok
	case 'n':
		return l.null()
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		num, ok := l.number()
		return ok && isCanonicalInt(num)
	}
	return false
}

// canonicalObject reads an object for canonicalValue, counting its nesting
// as canon does.
func (l *lexer) canonicalObject() bool {
	l.pos++
	if !l.open() {
		return false
	}
	if l.at('}') {
		l.pos++
		l.nest--
		return true
	}
	var prev []byte
	for {
		if !l.at('"') {
			return false
		}
		raw, plain, ok := l.rawString()
		if !ok || !plain {
			return false
		}
		name := raw[1 : len(raw)-1]
		if prev != nil && !utf16Less(prev, name) {
			return false
		}
		prev = name
		if !l.at(':') {
			return false
		}
		l.pos++
		if !l.canonicalValue() {
			return false
		}
		switch {
		case l.at(','):
			l.pos++
		case l.at('}'):
			l.pos++
			l.nest--
			return true
		default:
			return false
		}
	}
}

// canonicalArray reads an array for canonicalValue.
func (l *lexer) canonicalArray() bool {
	l.pos++
	if !l.open() {
		return false
	}
	if l.at(']') {
		l.pos++
		l.nest--
		return true
	}
	for {
		if !l.canonicalValue() {
			return false
		}
		switch {
		case l.at(','):
			l.pos++
		case l.at(']'):
			l.pos++
			l.nest--
			return true
		default:
			return false
		}
	}
}

// at reports whether the next byte, white space included, is c.
func (l *lexer) at(c byte) bool {
	return l.pos < len(l.data) && l.data[l.pos] == c
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
