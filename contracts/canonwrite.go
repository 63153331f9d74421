package contracts

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// canon reads one JSON value and appends its canonical form to out.
func (l *lexer) canon(out []byte) ([]byte, bool) {
	switch l.peek() {
	case '{':
		return l.canonObject(out)
	case '[':
		out = append(out, '[')
		ok := l.array(func(i int) bool {
			if i > 0 {
				out = append(out, ',')
			}
			var ok bool
			out, ok = l.canon(out)
			return ok
		})
		return append(out, ']'), ok
	case '"':
		return l.canonString(out)
	case 't', 'f':
		b, ok := l.bool()
		return strconv.AppendBool(out, b), ok
	case 'n':
		if l.null() {
			return append(out, "null"...), true
		}
		return out, l.fail("invalid literal")
	case 0:
		return out, l.fail("unexpected end of the JSON document")
	}
	start := l.pos
	num, ok := l.number()
	if !ok {
		return out, false
	}
	n, ok := canonicalInt(num)
	if !ok {
		l.pos = start
		return out, l.fail("number %s is not an integer within ±2^53", num)
	}
	return strconv.AppendInt(out, n, 10), true
}

// canonicalInt reads a JSON number as the canonicalizer takes one: an
// integer within ±2^53, which every reader of the digest reads exactly.
func canonicalInt(num []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(num), 10, 64)
	return n, err == nil && n <= 1<<53 && n >= -(1<<53)
}

// canonString reads a string and appends its canonical form. A plain string
// (valid UTF-8 without escapes, so without a quote, backslash or control
// character inside) is its own canonical form and is copied as it is.
func (l *lexer) canonString(out []byte) ([]byte, bool) {
	raw, plain, ok := l.rawString()
	if !ok {
		return out, false
	}
	if plain {
		return append(out, raw...), true
	}
	l.pos -= len(raw)
	s, ok := l.str()
	return appendCanonicalString(out, s), ok
}

// canonMember is one member of an object being canonicalized: its name and
// where its canonical value sits in the output.
type canonMember struct {
	key        string
	start, end int
}

func (l *lexer) canonObject(out []byte) ([]byte, bool) {
	out, _, ok := l.canonObjectEdit(out, nil)
	return out, ok
}

// canonObjectEdit canonicalizes an object, editing its members as edits say
// (see CanonicalizeJSONEdit). emptied reports that drops left it without
// members, so that its parent leaves it out too.
func (l *lexer) canonObjectEdit(out []byte, edits map[string]*Edits) (_ []byte, emptied bool, _ bool) {
	var buf [16]canonMember
	members := buf[:0]
	base := len(out)
	out = append(out, '{')
	sorted, dropped := true, false
	ok := l.object(func(key string) bool {
		memberStart := len(out)
		if len(members) > 0 {
			out = append(out, ',')
		}
		out = appendCanonicalString(out, key)
		out = append(out, ':')
		start := len(out)
		var ok, drop bool
		if ed := edits[key]; ed == nil && l.canonical {
			from := l.pos
			ok = l.skip()
			out = append(out, l.data[from:l.pos]...)
		} else if ed == nil {
			out, ok = l.canon(out)
		} else {
			out, drop, ok = l.canonEdited(out, ed)
		}
		if drop {
			out, dropped = out[:memberStart], true
			return ok
		}
		if n := len(members); n > 0 && compareUTF16(members[n-1].key, key) > 0 {
			sorted = false
		}
		members = append(members, canonMember{key, start, len(out)})
		return ok
	})
	out = append(out, '}')
	emptied = dropped && len(members) == 0
	if !ok || sorted {
		return out, emptied, ok
	}
	// Rewrite the object in member order from a copy of its values.
	written := slices.Clone(out[base:])
	slices.SortFunc(members, func(a, b canonMember) int { return compareUTF16(a.key, b.key) })
	out = append(out[:base], '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendCanonicalString(out, m.key)
		out = append(out, ':')
		out = append(out, written[m.start-base:m.end-base]...)
	}
	return append(out, '}'), emptied, true
}

// canonEdited reads one member's value and writes it as ed says; drop
// reports that the member is to be left out.
func (l *lexer) canonEdited(out []byte, ed *Edits) (_ []byte, drop bool, _ bool) {
	switch {
	case ed.Drop:
		out, ok := l.canon(out) // read, to check it, and left out by the caller
		return out, true, ok
	case ed.Replace != nil:
		if l.peek() != '"' {
			return out, false, l.fail("%s is not a string", l.kindAhead())
		}
		s, ok := l.str()
		return appendCanonicalString(out, ed.Replace(s)), false, ok
	case ed.Members != nil && l.peek() == '{':
		return l.canonObjectEdit(out, ed.Members)
	}
	out, ok := l.canon(out)
	return out, false, ok
}

// appendCanonicalString escapes as RFC 8785 (ECMAScript JSON.stringify)
// does: only the quote, the backslash and control characters. Runs of
// bytes that need no escape are copied whole.
func appendCanonicalString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		start = i + 1
		switch {
		case c == '"':
			out = append(out, '\\', '"')
		case c == '\\':
			out = append(out, '\\', '\\')
		case c == '\b':
			out = append(out, '\\', 'b')
		case c == '\f':
			out = append(out, '\\', 'f')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// requires, without converting them.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16First(ra), utf16First(rb)
			if ua != ub {
				return int(ua) - int(ub)
			}
			// Same high surrogate: the low surrogates decide.
			return int(utf16Second(ra)) - int(utf16Second(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// utf16First is the first UTF-16 code unit of r; utf16Second the second, or 0.
func utf16First(r rune) uint16 {
	if r >= 0x10000 {
		return uint16(0xD800 + (r-0x10000)>>10)
	}
	return uint16(r)
}

func utf16Second(r rune) uint16 {
	if r >= 0x10000 {
		return uint16(0xDC00 + (r-0x10000)&0x3FF)
	}
	return 0
}
