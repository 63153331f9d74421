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

// canonicalObject reads an object for canonicalValue.
func (l *lexer) canonicalObject() bool {
	if empty, ok := l.canonicalEnter('}'); empty || !ok {
		return ok
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
		if more, ok := l.canonicalMore('}'); !more {
			return ok
		}
	}
}

// canonicalArray reads an array for canonicalValue.
func (l *lexer) canonicalArray() bool {
	if empty, ok := l.canonicalEnter(']'); empty || !ok {
		return ok
	}
	for {
		if !l.canonicalValue() {
			return false
		}
		if more, ok := l.canonicalMore(']'); !more {
			return ok
		}
	}
}

// canonicalEnter opens the object or array at l.pos for canonicalValue,
// counting its nesting as canon does, as enter does with no white space
// allowed; empty says it closed at once.
func (l *lexer) canonicalEnter(close byte) (empty, ok bool) {
	l.pos++
	if !l.open() {
		return false, false
	}
	if l.at(close) {
		l.pos++
		l.nest--
		return true, true
	}
	return false, true
}

// canonicalMore reads what follows a member or element for canonicalValue,
// as more does with no white space allowed: a comma, and more is true, or
// the closing byte.
func (l *lexer) canonicalMore(close byte) (more, ok bool) {
	switch {
	case l.at(','):
		l.pos++
		return true, true
	case l.at(close):
		l.pos++
		l.nest--
		return false, true
	}
	return false, false
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
