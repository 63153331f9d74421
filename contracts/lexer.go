package contracts

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// lexer reads JSON for the hand-written record, envelope and receipt
// decoders and the canonicalizer: no reflection, no maps, no interface
// values. Strings that need unescaping or hold invalid UTF-8 are handed to
// encoding/json, so their meaning is exactly encoding/json's. Errors carry
// the byte offset.
type lexer struct {
	data  []byte
	pos   int
	err   *DecodeError
	path  [8]pathSeg // the member being read, for errors
	depth int
	// nest counts the objects and arrays open; past maxNest (when not 0)
	// the document is refused, as encoding/json refuses documents nested
	// deeper than 10000 (see maxJSONNesting).
	nest, maxNest int
	// payloadBuf holds the canonical form of an envelope's payload; a
	// payload member given again reuses it rather than allocating anew
	// (see lexer.payload).
	payloadBuf []byte
	// slab is where short byte strings are decoded (see carve).
	slab []byte
	// rtype is the type of the record being read, from path[base] on, for
	// unknown to name the member an unknown one differs from only in case
	// ("" outside a record).
	rtype RecordType
	base  int
	// canonical says the document is in canonical form already, so that
	// canonObjectEdit may copy the values it does not edit.
	canonical bool
	// uncanon is set on reading anything canon would write otherwise:
	// white space, a string with escapes or not UTF-8, a number that is
	// not an integer in its shortest form within ±2^53, or the members of
	// an object (read by object, skip or skipQuick) not in strict UTF-16
	// order of their names. Cleared before a value and looked at after it,
	// it is the one way this package tells that a value arrived in
	// canonical form (see canoncheck.go).
	uncanon bool
	// inline, when not nil, has envelopeMember decode the payload as the
	// record the envelope names in the same pass (DecodeEnvelopeRecord).
	inline *inlineRecord
	// strs, when not nil, is where str puts the strings it reads (see
	// carveString). A pointer, so that the copies of the lexer a decoder
	// keeps to read a value again share it and never carve twice where
	// one handed out a string.
	strs *[]byte
}

// maxJSONNesting is encoding/json's limit on nested objects and arrays, which
// the decoders that stand in for it keep.
const maxJSONNesting = 10000

// pathSeg is one step of a path: a member name, or an array index when idx
// >= 0. A name skip read without keeping it is the plain string at
// data[from:to] instead, made a string only if an error names it.
type pathSeg struct {
	name     string
	idx      int
	from, to int
}

func (l *lexer) push(s pathSeg) {
	if l.depth < len(l.path) {
		l.path[l.depth] = s
	}
	l.depth++
}

func (l *lexer) pop() { l.depth-- }

func (l *lexer) pathString() string {
	var b []byte
	for _, s := range l.path[:min(l.depth, len(l.path))] {
		if s.idx >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.idx), 10)
			b = append(b, ']')
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		if s.to > s.from {
			b = append(b, l.data[s.from:s.to]...)
			continue
		}
		b = append(b, s.name...)
	}
	return string(b)
}

// fail records the first error, at the current offset and path, and
// returns false so callers can return its result.
func (l *lexer) fail(format string, args ...any) bool {
	if l.err == nil {
		l.err = &DecodeError{Offset: int64(l.pos), Path: l.pathString(), Message: fmt.Sprintf(format, args...)}
	}
	return false
}

func (l *lexer) ws() {
	for l.pos < len(l.data) {
		switch l.data[l.pos] {
		case ' ', '\t', '\r', '\n':
			l.pos++
			l.uncanon = true
		default:
			return
		}
	}
}

// peek returns the next significant byte, or 0 at the end (or at a NUL,
// which is never valid JSON either: check l.pos to tell them apart).
func (l *lexer) peek() byte {
	l.ws()
	if l.pos < len(l.data) {
		return l.data[l.pos]
	}
	return 0
}

// emptyArrayAhead reports whether the next value is an empty array,
// reading no further than the white space before it.
func (l *lexer) emptyArrayAhead() bool {
	if l.peek() != '[' {
		return false
	}
	for _, c := range l.data[l.pos+1:] {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c == ']'
		}
	}
	return false
}

func (l *lexer) expect(c byte) bool {
	if l.peek() != c {
		if l.pos >= len(l.data) {
			return l.fail("unexpected end of the JSON document")
		}
		return l.fail("invalid character %q, want %q", l.data[l.pos], c)
	}
	l.pos++
	return true
}

// null consumes a null if one comes next.
func (l *lexer) null() bool {
	if l.peek() == 'n' && len(l.data)-l.pos >= 4 && string(l.data[l.pos:l.pos+4]) == "null" {
		l.pos += 4
		return true
	}
	return false
}

// rawString returns the bytes of the next string token, quotes included, and
// whether its content is plain (no escapes, valid UTF-8).
func (l *lexer) rawString() (raw []byte, plain bool, ok bool) {
	if l.peek() != '"' {
		if l.pos >= len(l.data) {
			return nil, false, l.fail("unexpected end of the JSON document")
		}
		return nil, false, l.fail("invalid character %q, want a string", l.data[l.pos])
	}
	start := l.pos
	i := plainPrefix(l.data, start+1)
	plain = true
	var high byte // every byte ORed together: 0x80 or more once one is not ASCII
	for i < len(l.data) {
		c := l.data[i]
		high |= c
		switch {
		case c == '"':
			l.pos = i + 1
			raw = l.data[start:l.pos]
			if plain && high >= utf8.RuneSelf && !utf8.Valid(raw) {
				plain = false
			}
			if !plain {
				l.uncanon = true
			}
			return raw, plain, true
		case c == '\\':
			plain = false
			i += 2
			continue
		case c < 0x20:
			l.pos = i
			return nil, false, l.fail("invalid control character %q in string", c)
		}
		i++
	}
	l.pos = len(l.data)
	return nil, false, l.fail("unexpected end of the JSON document")
}

// SWAR constants: a byte repeated in each lane of a uint64, and each lane's
// high bit.
const (
	lanes1    = 0x0101010101010101
	lanesHigh = 0x8080808080808080
)

// plainPrefix returns the index of the first 8-byte block at or after i
// that holds a quote, a backslash, a control character or a byte that is
// not ASCII: what rawString must look at one byte at a time. The bytes
// before it are ordinary string content, checked eight at a time.
func plainPrefix(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		quote, backslash := w^('"'*lanes1), w^('\\'*lanes1)
		special := (w - 0x20*lanes1) | (quote-lanes1)&^quote | (backslash-lanes1)&^backslash
		if (special|w)&lanesHigh != 0 {
			return i
		}
	}
	return i
}

// str reads a string value.
func (l *lexer) str() (string, bool) {
	raw, plain, ok := l.rawString()
	if !ok {
		return "", false
	}
	if plain {
		return l.carveString(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		l.pos -= len(raw)
		return "", l.fail("invalid string: %v", err)
	}
	return s, true
}

// carveString is string(b), from l.strs when the lexer has it and b is
// short: the strings of a record (names, ids, dates, codes) then share a
// few allocations instead of taking one each. The bytes of l.strs are
// only ever appended to, never written again where a string was made of
// them, so each string stays as it was made.
func (l *lexer) carveString(b []byte) string {
	if l.strs == nil || len(b) == 0 || len(b) > slabSize/4 {
		return string(b)
	}
	slab := *l.strs
	if cap(slab)-len(slab) < len(b) {
		slab = make([]byte, 0, slabSize)
	}
	start := len(slab)
	slab = append(slab, b...)
	*l.strs = slab
	return unsafe.String(&slab[start], len(b))
}

// key reads a member name. Names the contracts use are interned (see
// memberName), so reading them allocates nothing.
func (l *lexer) key() (string, bool) { return l.interned(memberName) }

// interned reads a string value as str does, returning the string lookup
// gives for its bytes, without a copy, when it is plain and lookup knows it.
func (l *lexer) interned(lookup func([]byte) (string, bool)) (string, bool) {
	raw, plain, ok := l.rawString()
	if !ok {
		return "", false
	}
	if plain {
		if s, ok := lookup(raw[1 : len(raw)-1]); ok {
			return s, true
		}
	}
	l.pos -= len(raw)
	return l.str()
}

// number returns the bytes of the next number token.
func (l *lexer) number() ([]byte, bool) {
	l.ws()
	start, i := l.pos, l.pos
	d := l.data
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return nil, l.fail("invalid character in number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			l.pos = i
			return nil, l.fail("invalid number: no digits after the decimal point")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			l.pos = i
			return nil, l.fail("invalid number: no digits in the exponent")
		}
	}
	l.pos = i
	return d[start:i], true
}

// int reads an integer value; fractions, exponents and overflow are errors.
func (l *lexer) int() (int64, bool) {
	c := l.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, l.fail("%s is not a valid integer", l.kindAhead())
	}
	start := l.pos
	num, ok := l.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		l.pos = start
		return 0, l.fail("is not a valid integer: a whole number within ±2^63")
	}
	if !isCanonicalInt(num) {
		l.uncanon = true
	}
	return n, true
}

// bool reads true or false.
func (l *lexer) bool() (bool, bool) {
	l.ws()
	rest := l.data[l.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		l.pos += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		l.pos += 5
		return false, true
	}
	return false, l.fail("%s is not a valid boolean", l.kindAhead())
}

// kindAhead names the kind of the next value, for error messages.
func (l *lexer) kindAhead() string {
	switch l.peek() {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 0:
		return "end of input"
	}
	return "number"
}

// object reads an object, calling member for each key with the lexer at the
// value; member must consume the value. Duplicate keys are rejected (seen is
// per object, small and linear: records have few members).
func (l *lexer) object(member func(key string) bool) bool {
	return l.members(member, true)
}

// objectRepeating reads an object as object does but lets a member name
// repeat, as encoding/json does; member then sees the name again.
func (l *lexer) objectRepeating(member func(key string) bool) bool {
	return l.members(member, false)
}

// members reads an object for object and objectRepeating; unique rejects a
// member name given twice.
func (l *lexer) members(member func(key string) bool, unique bool) bool {
	if empty, ok := l.enter('{', '}'); empty || !ok {
		return ok
	}
	var seenBuf [24]string
	seen := seenBuf[:0]
	sorted := true // the names so far are in strict order, so none repeats
	for {
		keyPos := l.pos
		key, ok := l.key()
		if !ok || !l.expect(':') {
			return false
		}
		if unique {
			if sorted && len(seen) > 0 && !utf16Less(seen[len(seen)-1], key) {
				sorted, l.uncanon = false, true
			}
			if !sorted && slices.Contains(seen, key) {
				l.pos = keyPos
				l.push(pathSeg{name: key, idx: -1})
				return l.fail("duplicate member %q", key)
			}
			seen = append(seen, key)
		}
		l.push(pathSeg{name: key, idx: -1})
		if !member(key) {
			return false
		}
		l.pop()
		if more, ok := l.more('}', "object member"); !more {
			return ok
		}
	}
}

// enter reads the opening byte of an object or array; empty says the
// closing one came right after it.
func (l *lexer) enter(open, close byte) (empty, ok bool) {
	if !l.expect(open) || !l.open() {
		return false, false
	}
	if l.peek() == close {
		l.pos++
		l.nest--
		return true, true
	}
	return false, true
}

// more reads what follows a member or element (what names it for errors):
// a comma, and more is true, or the closing byte.
func (l *lexer) more(close byte, what string) (more, ok bool) {
	switch l.peek() {
	case ',':
		l.pos++
		return true, true
	case close:
		l.pos++
		l.nest--
		return false, true
	}
	if l.pos >= len(l.data) {
		return false, l.fail("unexpected end of the JSON document")
	}
	return false, l.fail("invalid character %q after %s", l.data[l.pos], what)
}

// open counts an object or array just opened, refusing one nested deeper
// than maxNest.
func (l *lexer) open() bool {
	l.nest++
	if l.maxNest > 0 && l.nest > l.maxNest {
		l.pos--
		return l.fail("exceeded max nesting depth %d", l.maxNest)
	}
	return true
}

// array reads an array, calling elem for each element with the lexer at it.
func (l *lexer) array(elem func(i int) bool) bool {
	if empty, ok := l.enter('[', ']'); empty || !ok {
		return ok
	}
	for i := 0; ; i++ {
		l.push(pathSeg{idx: i})
		if !elem(i) {
			return false
		}
		l.pop()
		if more, ok := l.more(']', "array element"); !more {
			return ok
		}
	}
}

// skip reads one value of any kind for its syntax alone, as encoding/json's
// scanner checks it: numbers of any size and form, and repeated member names,
// are fine. It keeps nothing it reads: member names are not interned and
// plain strings are not copied, which makes it the cheap way to find where
// a value ends. skipRaw (RawObject, RawArray) reads objects and arrays
// without their paths first (skipQuick), and with skip only for the error.
func (l *lexer) skip() bool {
	switch l.peek() {
	case '{':
		return l.skipObject()
	case '[':
		return l.array(func(int) bool { return l.skip() })
	case '"':
		return l.skipString()
	case 't', 'f':
		_, ok := l.bool()
		return ok
	case 'n':
		if l.null() {
			return true
		}
		return l.fail("invalid literal")
	case 0:
		if l.pos >= len(l.data) {
			return l.fail("unexpected end of the JSON document")
		}
	}
	num, ok := l.number()
	if ok && !isCanonicalInt(num) {
		l.uncanon = true
	}
	return ok
}

// nameInOrder marks uncanon, for skip and skipQuick, when the plain member
// name raw (quotes included) does not follow prev, the name before it in
// its object, in strict UTF-16 order; it returns the name, the next prev.
// Once uncanon is set the order no longer matters, and it compares nothing.
func (l *lexer) nameInOrder(prev, raw []byte) []byte {
	if l.uncanon {
		return prev
	}
	name := raw[1 : len(raw)-1]
	if prev != nil && !utf16Less(prev, name) {
		l.uncanon = true
	}
	return name
}

// skipString reads a string for its syntax alone.
func (l *lexer) skipString() bool {
	raw, plain, ok := l.rawString()
	if !ok || plain {
		return ok
	}
	// Escapes or bytes that are not UTF-8: read it again to check them as
	// encoding/json does. Plain strings cost no allocation.
	l.pos -= len(raw)
	_, ok = l.str()
	return ok
}

// skipObject reads an object for its syntax alone, as objectRepeating
// would with skip for every member, without interning the names.
func (l *lexer) skipObject() bool {
	if empty, ok := l.enter('{', '}'); empty || !ok {
		return ok
	}
	var prev []byte // the name before, while the names are in order
	for {
		l.ws()
		start := l.pos
		raw, plain, ok := l.rawString()
		if !ok {
			return false
		}
		seg := pathSeg{idx: -1, from: start + 1, to: start + len(raw) - 1}
		if !plain {
			l.pos = start
			if seg.name, ok = l.str(); !ok {
				return false
			}
			seg.from, seg.to = 0, 0
		} else {
			prev = l.nameInOrder(prev, raw)
		}
		l.push(seg)
		if !l.expect(':') || !l.skip() {
			return false
		}
		l.pop()
		if more, ok := l.more('}', "object member"); !more {
			return ok
		}
	}
}

// end checks that nothing but white space follows.
func (l *lexer) end() bool {
	if l.ws(); l.pos < len(l.data) {
		return l.fail("trailing data after the JSON object")
	}
	return true
}
