package contracts

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The canonical encoder writes RFC 8785 straight from a Go value: the bytes
// CanonicalizeJSON makes of json.Marshal's encoding, without the detour
// through that encoding (encoding/json's reflection, then a second pass over
// the bytes it wrote). It follows encoding/json's rules for what a value encodes to (see
// canonfields.go for a struct's members) and builds one encoder per type,
// once, so that a new field in a record needs nothing here.
//
// It handles what the contracts and their callers encode: strings, bools,
// integers, integral floats, json.Number, pointers, slices, arrays, maps
// with string or integer keys, structs, interfaces, time.Time, Date and
// json.Marshaler and encoding.TextMarshaler implementations. Anything else,
// and anything json.Marshal or the canonicalizer would refuse, it declines
// (an encoder reports false), and Canonical then takes the original route
// for the whole value, which also says what is wrong. Declining is only ever
// a slower path, never a different result.

// canonEncoder appends the canonical form of v, a value of the type it was
// built for, to b. It reports false to decline v; b is then garbage. depth
// counts the pointers, slices, maps and interfaces v is inside, so that a
// cyclic value is declined rather than followed forever.
type canonEncoder func(b []byte, v reflect.Value, depth int) ([]byte, bool)

// maxCanonDepth is how deep the canonical encoder follows a value before it
// declines it: where encoding/json starts looking for cycles.
const maxCanonDepth = 1000

var numberType = reflect.TypeFor[json.Number]()

// canonEncoders caches an encoder per type (reflect.Type -> canonEncoder).
var canonEncoders sync.Map

// appendCanonicalValue appends the canonical encoding of v to b, or reports
// false when the canonical encoder declines it.
func appendCanonicalValue(b []byte, v any) ([]byte, bool) {
	if v == nil {
		return append(b, "null"...), true
	}
	rv := reflect.ValueOf(v)
	return canonEncoderFor(rv.Type())(b, rv, 0)
}

// canonEncoderFor returns the cached encoder for t, building it the first
// time. A recursive type meets itself while its encoder is being built; it
// then gets an encoder that waits for the real one, as encoding/json does.
func canonEncoderFor(t reflect.Type) canonEncoder {
	if enc, ok := canonEncoders.Load(t); ok {
		return enc.(canonEncoder)
	}
	var (
		wg  sync.WaitGroup
		enc canonEncoder
	)
	wg.Add(1)
	indirect, loaded := canonEncoders.LoadOrStore(t, canonEncoder(func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		wg.Wait()
		return enc(b, v, depth)
	}))
	if loaded {
		return indirect.(canonEncoder)
	}
	enc = newCanonEncoder(t, true)
	wg.Done()
	canonEncoders.Store(t, enc)
	return enc
}

// newCanonEncoder chooses t's encoder as encoding/json's newTypeEncoder
// does. allowAddr says that a value of t may be addressable, so that a
// marshaler with a pointer receiver may apply.
//
// Two departures that change nothing: time.Time and Date are written
// directly rather than through their marshalers, and a pointer is always
// followed to its element even when the pointer type is a marshaler.
// encoding/json calls such a pointer's method itself, but a pointer type
// *E has exactly the methods of E and *E, so the element's encoder, given
// the addressable element, finds and calls the same method.
func newCanonEncoder(t reflect.Type, allowAddr bool) canonEncoder {
	switch {
	case t == timeType:
		return encodeTime
	case t == dateType:
		return encodeDate
	case t.Kind() == reflect.Pointer:
		return newPointerEncoder(t)
	case allowAddr && reflect.PointerTo(t).Implements(jsonMarshaler):
		return condAddrEncoder(encodeAddrMarshaler, newCanonEncoder(t, false))
	case t.Implements(jsonMarshaler):
		return encodeMarshaler
	case allowAddr && reflect.PointerTo(t).Implements(textMarshaler):
		return condAddrEncoder(encodeAddrTextMarshaler, newCanonEncoder(t, false))
	case t.Implements(textMarshaler):
		return encodeTextMarshaler
	}
	switch t.Kind() {
	case reflect.Bool:
		return encodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encodeUint
	case reflect.Float32:
		return floatEncoder(32)
	case reflect.Float64:
		return floatEncoder(64)
	case reflect.String:
		if t == numberType {
			return encodeNumber
		}
		return encodeString
	case reflect.Interface:
		return encodeInterface
	case reflect.Struct:
		return newStructEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Slice:
		return newSliceEncoder(t)
	case reflect.Array:
		return newArrayEncoder(t)
	}
	return decline
}

// decline is the encoder of what the canonical encoder leaves to
// json.Marshal: the kinds it refuses (channels, functions, complex numbers),
// maps with keys it does not name itself, and ",string" fields.
func decline(b []byte, _ reflect.Value, _ int) ([]byte, bool) { return b, false }

// condAddrEncoder uses addr for an addressable value and other for the rest,
// as encoding/json does for marshalers with pointer receivers.
func condAddrEncoder(addr, other canonEncoder) canonEncoder {
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		if v.CanAddr() {
			return addr(b, v, depth)
		}
		return other(b, v, depth)
	}
}

// encodeTime writes a time.Time as its MarshalJSON does (RFC 3339 with the
// sub-second digits it has), which is canonical as it stands; MarshalJSON's
// errors (a year outside 0-9999, a zone of a day or more) are AppendText's.
func encodeTime(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	t, _ := reflect.TypeAssert[time.Time](v)
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}

// encodeDate writes a Date as its MarshalText does; the text is digits and
// hyphens, which need no escaping.
func encodeDate(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	d, _ := reflect.TypeAssert[Date](v)
	b = append(b, '"')
	if !d.IsZero() {
		b = d.appendTo(b)
	}
	return append(b, '"'), true
}

// encodeMarshaler calls v's MarshalJSON; a nil interface is null.
func encodeMarshaler(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	m, ok := reflect.TypeAssert[json.Marshaler](v)
	if !ok {
		return append(b, "null"...), true
	}
	return appendMarshaledJSON(b, m)
}

// encodeAddrMarshaler calls MarshalJSON on v's address.
func encodeAddrMarshaler(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	m, _ := reflect.TypeAssert[json.Marshaler](v.Addr())
	return appendMarshaledJSON(b, m)
}

// appendMarshaledJSON appends the canonical form of m's JSON. It is checked
// as json.Marshal checks a marshaler's output (its nesting limit included)
// and canonicalized as CanonicalizeJSON would canonicalize it in place.
func appendMarshaledJSON(b []byte, m json.Marshaler) ([]byte, bool) {
	doc, err := m.MarshalJSON()
	if err != nil {
		return b, false
	}
	l := &lexer{data: doc, maxNest: maxJSONNesting}
	out, ok := l.canon(b)
	return out, ok && l.end()
}

// encodeTextMarshaler calls v's MarshalText; a nil interface is null.
func encodeTextMarshaler(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	m, ok := reflect.TypeAssert[encoding.TextMarshaler](v)
	if !ok {
		return append(b, "null"...), true
	}
	return appendMarshaledText(b, m)
}

// encodeAddrTextMarshaler calls MarshalText on v's address.
func encodeAddrTextMarshaler(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	m, _ := reflect.TypeAssert[encoding.TextMarshaler](v.Addr())
	return appendMarshaledText(b, m)
}

// appendMarshaledText appends m's text as a string, as json.Marshal does.
func appendMarshaledText(b []byte, m encoding.TextMarshaler) ([]byte, bool) {
	text, err := m.MarshalText()
	if err != nil {
		return b, false
	}
	return AppendCanonicalString(b, string(text)), true
}

// encodeBool writes true or false.
func encodeBool(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	return strconv.AppendBool(b, v.Bool()), true
}

// encodeInt writes an integer, declining one beyond ±2^53 as the
// canonicalizer refuses it.
func encodeInt(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	n := v.Int()
	if n > 1<<53 || n < -(1<<53) {
		return b, false
	}
	return strconv.AppendInt(b, n, 10), true
}

// encodeUint writes an unsigned integer, declining one beyond 2^53.
func encodeUint(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	n := v.Uint()
	if n > 1<<53 {
		return b, false
	}
	return strconv.AppendUint(b, n, 10), true
}

// floatEncoder writes a float of the given bits as the canonicalizer
// rewrites json.Marshal's encoding of it. json.Marshal refuses NaN and the
// infinities and writes magnitudes from 1e21 with an exponent; the
// canonicalizer refuses exponents and fractions. What is left is written
// as json.Marshal writes it (the shortest decimal that reads back as the
// same float, which for a float32 need not be its exact value) and then
// held to the canonicalizer's integer range.
func floatEncoder(bits int) canonEncoder {
	return func(b []byte, v reflect.Value, _ int) ([]byte, bool) {
		f := v.Float()
		if f != math.Trunc(f) || math.Abs(f) >= 1e21 {
			return b, false
		}
		start := len(b)
		b = strconv.AppendFloat(b, f, 'f', -1, bits)
		n, ok := canonicalInt(b[start:])
		if !ok {
			return b, false
		}
		return strconv.AppendInt(b[:start], n, 10), true
	}
}

// encodeNumber writes a json.Number, which json.Marshal writes as it is
// ("" as 0) once it is a valid JSON number, and the canonicalizer then
// takes only as an integer within ±2^53.
func encodeNumber(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	num := v.String()
	if num == "" {
		num = "0"
	}
	if !isJSONInteger(num) {
		return b, false
	}
	n, ok := canonicalInt([]byte(num))
	if !ok {
		return b, false
	}
	return strconv.AppendInt(b, n, 10), true
}

// isJSONInteger reports whether s is a JSON number without fraction or
// exponent: an optional minus, then 0 or digits not starting with 0.
func isJSONInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] < '0' || s[0] > '9' || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// encodeString writes a string as AppendCanonicalString does.
func encodeString(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	return AppendCanonicalString(b, v.String()), true
}

// AppendCanonicalString appends s as a JSON string in the canonical form of
// json.Marshal's encoding of it: RFC 8785 escaping (only the quote, the
// backslash and control characters), and each byte of invalid UTF-8 as
// U+FFFD, as json.Marshal writes it. Encoders of other canonical documents
// (the audit log's entries) write their strings with it.
func AppendCanonicalString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = replaceInvalidUTF8(s)
	}
	return appendCanonicalString(b, s)
}

// replaceInvalidUTF8 replaces each byte of invalid UTF-8 in s with U+FFFD
// (strings.ToValidUTF8 would replace a run of them with one).
func replaceInvalidUTF8(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}

// encodeInterface writes the value inside an interface; nil is null.
func encodeInterface(b []byte, v reflect.Value, depth int) ([]byte, bool) {
	if v.IsNil() {
		return append(b, "null"...), true
	}
	if depth >= maxCanonDepth {
		return b, false
	}
	e := v.Elem()
	return canonEncoderFor(e.Type())(b, e, depth+1)
}

// newPointerEncoder writes what a pointer points to; nil is null.
func newPointerEncoder(t reflect.Type) canonEncoder {
	elem := canonEncoderFor(t.Elem())
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		if v.IsNil() {
			return append(b, "null"...), true
		}
		if depth >= maxCanonDepth {
			return b, false
		}
		return elem(b, v.Elem(), depth+1)
	}
}

// newSliceEncoder writes a slice as an array, nil as null, and a slice of
// bytes as encoding/json does: as a base64 string, unless its element type
// is a marshaler.
func newSliceEncoder(t reflect.Type) canonEncoder {
	if t.Elem().Kind() == reflect.Uint8 {
		p := reflect.PointerTo(t.Elem())
		if !p.Implements(jsonMarshaler) && !p.Implements(textMarshaler) {
			return encodeBytes
		}
	}
	elem := canonEncoderFor(t.Elem())
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		if v.IsNil() {
			return append(b, "null"...), true
		}
		if depth >= maxCanonDepth {
			return b, false
		}
		return appendElements(b, v, elem, depth+1)
	}
}

// encodeBytes writes a slice of bytes as standard base64 in quotes, which
// needs no escaping; nil is null.
func encodeBytes(b []byte, v reflect.Value, _ int) ([]byte, bool) {
	if v.IsNil() {
		return append(b, "null"...), true
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v.Bytes())
	return append(b, '"'), true
}

// newArrayEncoder writes an array (of bytes too) as an array.
func newArrayEncoder(t reflect.Type) canonEncoder {
	elem := canonEncoderFor(t.Elem())
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		return appendElements(b, v, elem, depth)
	}
}

// appendElements writes the elements of a slice or array.
func appendElements(b []byte, v reflect.Value, elem canonEncoder, depth int) ([]byte, bool) {
	b = append(b, '[')
	for i := range v.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = elem(b, v.Index(i), depth); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// mapMember is one entry of a map being encoded: its member name and value.
type mapMember struct {
	name  string
	value reflect.Value
}

// newMapEncoder writes a map as an object with its members in canonical
// order; nil is null. Keys are named as encoding/json names them: strings
// as they are, integers in decimal. Other keys (encoding.TextMarshaler,
// which encoding/json prefers to an integer) it leaves to json.Marshal.
func newMapEncoder(t reflect.Type) canonEncoder {
	var name func(k reflect.Value) string
	switch t.Key().Kind() {
	case reflect.String:
		name = func(k reflect.Value) string { return k.String() }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		name = func(k reflect.Value) string { return strconv.FormatInt(k.Int(), 10) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		name = func(k reflect.Value) string { return strconv.FormatUint(k.Uint(), 10) }
	}
	if name == nil || t.Key().Kind() != reflect.String && t.Key().Implements(textMarshaler) {
		return decline
	}
	elem := canonEncoderFor(t.Elem())
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		if v.IsNil() {
			return append(b, "null"...), true
		}
		if depth >= maxCanonDepth {
			return b, false
		}
		return appendMapMembers(b, v, name, elem, depth+1)
	}
}

// appendMapMembers writes a map's members sorted by their names as the
// canonicalizer reads them back (invalid UTF-8 replaced), declining a map
// where two keys read back as one name, which the canonicalizer refuses.
func appendMapMembers(b []byte, v reflect.Value, name func(reflect.Value) string, elem canonEncoder, depth int) ([]byte, bool) {
	members := make([]mapMember, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k := name(it.Key())
		if !utf8.ValidString(k) {
			k = replaceInvalidUTF8(k)
		}
		members = append(members, mapMember{k, it.Value()})
	}
	slices.SortFunc(members, func(x, y mapMember) int { return compareUTF16(x.name, y.name) })
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			if m.name == members[i-1].name {
				return b, false
			}
			b = append(b, ',')
		}
		b = appendCanonicalString(b, m.name)
		b = append(b, ':')
		var ok bool
		if b, ok = elem(b, m.value, depth); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// structMember is one member a struct type encodes to, with what it takes
// to write it.
type structMember struct {
	jsonField
	// prefix is the member's canonical name and the colon.
	prefix string
	// isZero reports whether an omitzero member is zero, as encoding/json
	// decides it; nil without omitzero.
	isZero func(reflect.Value) bool
	enc    canonEncoder
}

// newStructEncoder writes a struct's members, as jsonFields finds them, in
// canonical order: sorted once, here, by the UTF-16 code units of their
// names (which are unique).
func newStructEncoder(t reflect.Type) canonEncoder {
	fields := jsonFields(t)
	members := make([]structMember, len(fields))
	for i, f := range fields {
		members[i] = newStructMember(f)
	}
	slices.SortFunc(members, func(x, y structMember) int { return compareUTF16(x.name, y.name) })
	return func(b []byte, v reflect.Value, depth int) ([]byte, bool) {
		return appendStructMembers(b, v, members, depth)
	}
}

// newStructMember is how the struct encoder writes field f.
func newStructMember(f jsonField) structMember {
	m := structMember{jsonField: f, prefix: string(appendCanonicalString(nil, f.name)) + ":"}
	if f.omitZero {
		m.isZero = zeroTest(f.typ)
	}
	if f.quoted {
		m.enc = decline
	} else {
		m.enc = canonEncoderFor(f.typ)
	}
	return m
}

// appendStructMembers writes the members of struct v, leaving out those
// behind a nil embedded pointer and those omitempty or omitzero omit.
func appendStructMembers(b []byte, v reflect.Value, members []structMember, depth int) ([]byte, bool) {
	sep := byte('{')
	for i := range members {
		m := &members[i]
		fv, ok := m.value(v)
		if !ok || m.omitEmpty && isEmptyValue(fv) || m.isZero != nil && m.isZero(fv) {
			continue
		}
		b = append(b, sep)
		sep = ','
		b = append(b, m.prefix...)
		if b, ok = m.enc(b, fv, depth); !ok {
			return b, false
		}
	}
	if sep == '{' {
		return append(b, "{}"...), true
	}
	return append(b, '}'), true
}

// value returns the member's field of struct v, following embedded
// pointers; false when one of them is nil.
func (m *structMember) value(v reflect.Value) (reflect.Value, bool) {
	for _, i := range m.index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}
