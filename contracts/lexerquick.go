package contracts

// skipRaw reads one value as skip does, with the same result and error,
// for RawObject, RawArray and skipCanonical: first by skipQuick, and only
// when that fails, again from the start by skip, which says what is wrong
// and where.
func (l *lexer) skipRaw() bool {
	before := *l
	if l.skipQuick() {
		return true
	}
	*l = before
	return l.skip()
}

// skipQuick reads one value for its syntax as skip does, marking uncanon
// as skip does, but without the path that only an error needs: a request
// body or a payload is almost always well formed, and skipRaw reads it
// again with skip when it is not. It returns false on anything skip would
// refuse, leaving the lexer's position and error undefined.
func (l *lexer) skipQuick() bool {
	switch l.peek() {
	case '{':
		if empty, ok := l.enter('{', '}'); empty || !ok {
			return ok
		}
		var prev []byte // the name before, while the names are in order
		for {
			if l.peek() != '"' {
				return false
			}
			start := l.pos
			if !l.skipString() {
				return false
			}
			// A name that is not plain has set uncanon, and is not compared.
			prev = l.nameInOrder(prev, l.data[start:l.pos])
			if l.peek() != ':' {
				return false
			}
			l.pos++
			if !l.skipQuick() {
				return false
			}
			if more, ok := l.more('}', "object member"); !more {
				return ok
			}
		}
	case '[':
		if empty, ok := l.enter('[', ']'); empty || !ok {
			return ok
		}
		for {
			if !l.skipQuick() {
				return false
			}
			if more, ok := l.more(']', "array element"); !more {
				return ok
			}
		}
	}
	return l.skip() // a scalar, which skip reads without a path too
}
