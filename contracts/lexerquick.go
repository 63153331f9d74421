package contracts

// skipRaw reads one value as skip does, with the same result and error,
// for RawObject and RawArray: first by skipQuick, and only when that
// fails, again from the start by skip, which says what is wrong and where.
func (l *lexer) skipRaw() bool {
	before := *l
	if l.skipQuick() {
		return true
	}
	*l = before
	return l.skip()
}

// skipQuick reads one value for its syntax as skip does, but without what
// only an error needs (the path) or only a canonical check needs (the
// order of member names): a request body is almost always well formed, and
// skipRaw reads it again with skip when it is not. It returns false on
// anything skip would refuse, leaving the lexer's position and error
// undefined.
func (l *lexer) skipQuick() bool {
	switch l.peek() {
	case '{':
		l.pos++
		if !l.open() {
			return false
		}
		if l.peek() == '}' {
			l.pos++
			l.nest--
			return true
		}
		for {
			if l.peek() != '"' || !l.skipString() || l.peek() != ':' {
				return false
			}
			l.pos++
			if !l.skipQuick() {
				return false
			}
			if done, ok := l.quickMore('}'); done || !ok {
				return ok
			}
		}
	case '[':
		l.pos++
		if !l.open() {
			return false
		}
		if l.peek() == ']' {
			l.pos++
			l.nest--
			return true
		}
		for {
			if !l.skipQuick() {
				return false
			}
			if done, ok := l.quickMore(']'); done || !ok {
				return ok
			}
		}
	case '"':
		return l.skipString()
	case 't', 'f':
		_, ok := l.bool()
		return ok
	case 'n':
		return l.null()
	}
	_, ok := l.number()
	return ok
}

// quickMore reads what follows a member or element for skipQuick: a
// comma, or the closing byte, and then done is true.
func (l *lexer) quickMore(close byte) (done, ok bool) {
	switch l.peek() {
	case ',':
		l.pos++
		return false, true
	case close:
		l.pos++
		l.nest--
		return true, true
	}
	return false, false
}
