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

// skipQuick reads one value for its syntax as skip does, marking uncanon
// as skip does, but without the path that only an error needs: a request
// body or a payload is almost always well formed, and skipRaw and
// skipCanonical read it again with skip when it is not. It returns false
// on anything skip would refuse, leaving the lexer's position and error
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
		var prev []byte // the name before, while the names are in order
		for {
			if l.peek() != '"' {
				return false
			}
			raw, plain, ok := l.rawString()
			if !ok {
				return false
			}
			if !plain {
				l.pos -= len(raw)
				if _, ok := l.str(); !ok {
					return false
				}
			} else if !l.uncanon {
				name := raw[1 : len(raw)-1]
				if prev != nil && !utf16Less(prev, name) {
					l.uncanon = true
				}
				prev = name
			}
			if l.peek() != ':' {
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
	num, ok := l.number()
	if ok && !isCanonicalInt(num) {
		l.uncanon = true
	}
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
