package contracts

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// The canonical encoder can carry out a tree of Edits while it writes a
// struct, so that an envelope's payload is written once instead of encoded
// and then edited by EditCanonicalJSON. It does to each member what that
// second pass (canonObjectEdit, canonEdited) would do to the member's
// encoding, and declines whatever it cannot be sure to do the same way;
// canonicalEdited then takes the two passes, so that declining is only ever
// slower, never different.

// PayloadEditor turns a record's canonical form into an envelope's payload:
// the export obligations (the gateway's policy decision implements it).
// One decision seals many records at once: its methods are called
// concurrently.
type PayloadEditor interface {
	// CanonicalEdits returns the edits that the canonical encoder carries
	// out as it writes the record, or nil to have ApplyCanonical edit the
	// whole encoding. The caller does not change them.
	CanonicalEdits() map[string]*Edits
	// ApplyCanonical returns canonical, a record's canonical form, edited,
	// as canonical JSON (see SetPayload) in a slice of its own: canonical
	// is a buffer reused after it returns. Where EditCanonicalJSON of
	// canonical and CanonicalEdits succeeds, it must return the same
	// bytes, for the encoder writes those when it can and calls
	// ApplyCanonical only when it declines.
	ApplyCanonical(canonical []byte) ([]byte, error)
}

// EditsAt returns the edits of the member at path in edits, adding them
// and those of every object on the way if they are not there yet. path is
// member names joined by dots ("worker.id_number"), as policy names the
// fields it drops and masks, so that a tree of edits is built one field at
// a time: the caller sets Drop or Replace on what it returns. An edit made
// at a path does not undo one made above or below it. edits must not be
// nil: the member is added to it.
func EditsAt(edits map[string]*Edits, path string) *Edits {
	for {
		name, rest, nested := strings.Cut(path, ".")
		e := edits[name]
		if e == nil {
			e = new(Edits)
			edits[name] = e
		}
		if !nested {
			return e
		}
		if e.Members == nil {
			e.Members = make(map[string]*Edits)
		}
		edits, path = e.Members, rest
	}
}

// appendCanonicalEdited appends EditCanonicalJSON of v's canonical form
// and edits to b, writing it in one pass. It reports false, leaving b
// garbage, where it declines: a value that is not an object, anything the
// canonical encoder declines, and an edit it cannot be sure to carry out as
// EditCanonicalJSON would (a Replace of what is not a string).
func appendCanonicalEdited(b []byte, v any, edits map[string]*Edits) ([]byte, bool) {
	if v == nil {
		return b, false
	}
	start := len(b)
	b, _, ok := appendValueEdited(b, reflect.ValueOf(v), edits, 0)
	return b, ok && b[start] == '{'
}

// appendValueEdited writes v with the members of its object edited.
// emptied reports that drops left the object without members, so that its
// parent leaves it out, as canonObjectEdit reports it. A value that is not
// an object is written as it is, as canonEdited copies it.
func appendValueEdited(b []byte, v reflect.Value, edits map[string]*Edits, depth int) (_ []byte, emptied, _ bool) {
	switch t := v.Type(); t.Kind() {
	case reflect.Pointer:
		// newCanonEncoder follows every pointer to its element.
		if v.IsNil() {
			return append(b, "null"...), false, true
		}
		if depth >= maxCanonDepth {
			return b, false, false
		}
		return appendValueEdited(b, v.Elem(), edits, depth+1)
	case reflect.Struct:
		if s := editStructFor(t); s.byMembers {
			return appendStructEdited(b, v, s.members, edits, depth)
		}
	}
	return appendEncodingEdited(b, v, edits, depth)
}

// appendEncodingEdited writes v as the canonical encoder does and edits the
// object it wrote, if it is one, as the second pass would: for the values
// not written by a struct's members (maps, interfaces, marshalers).
func appendEncodingEdited(b []byte, v reflect.Value, edits map[string]*Edits, depth int) (_ []byte, emptied, _ bool) {
	start := len(b)
	b, ok := canonEncoderFor(v.Type())(b, v, depth)
	if !ok || b[start] != '{' {
		return b, false, ok
	}
	l := &lexer{data: slices.Clone(b[start:]), canonical: true}
	b, emptied, ok = l.canonObjectEdit(b[:start], edits)
	return b, emptied, ok && l.end()
}

// editMember is a member of a struct as the struct's canonical encoder
// writes it, and whether it is a string written as it is, which a Replace
// may read without reading back its encoding.
type editMember struct {
	structMember
	plainString bool
}

// editStruct is how the canonical encoder writes a struct type: by its
// members, in this order, unless byMembers is false (time.Time, Date and
// marshalers).
type editStruct struct {
	members   []editMember
	byMembers bool
}

// editStructs caches editStructFor (reflect.Type -> editStruct).
var editStructs sync.Map

// editStructFor returns how struct type t is written, its members found and
// ordered as newStructEncoder finds and orders them.
func editStructFor(t reflect.Type) editStruct {
	if s, ok := editStructs.Load(t); ok {
		return s.(editStruct)
	}
	s := editStruct{byMembers: encodesMembers(t)}
	if s.byMembers {
		for _, f := range jsonFields(t) {
			s.members = append(s.members, editMember{structMember: newStructMember(f), plainString: !f.quoted && encodesAsString(f.typ)})
		}
		slices.SortFunc(s.members, func(x, y editMember) int { return compareUTF16(x.name, y.name) })
	}
	editStructs.Store(t, s)
	return s
}

// encodesMembers reports whether newCanonEncoder writes struct type t by
// its members (a pointer to t may be addressable, so its methods count).
func encodesMembers(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t != timeType && t != dateType && !p.Implements(jsonMarshaler) && !p.Implements(textMarshaler)
}

// encodesAsString reports whether newCanonEncoder writes a value of t with
// encodeString.
func encodesAsString(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.String && t != numberType && !p.Implements(jsonMarshaler) && !p.Implements(textMarshaler)
}

// appendStructEdited is appendStructMembers with the members edited as
// canonObjectEdit edits them; emptied as appendValueEdited.
func appendStructEdited(b []byte, v reflect.Value, members []editMember, edits map[string]*Edits, depth int) (_ []byte, emptied, _ bool) {
	sep, dropped := byte('{'), false
	for i := range members {
		m := &members[i]
		fv, ok := m.value(v)
		if !ok || m.omitEmpty && isEmptyValue(fv) || m.isZero != nil && m.isZero(fv) {
			continue
		}
		start := len(b)
		b = append(b, sep)
		b = append(b, m.prefix...)
		var drop bool
		if ed := edits[m.name]; ed == nil {
			b, ok = m.enc(b, fv, depth)
		} else {
			b, drop, ok = m.appendEdited(b, fv, ed, depth)
		}
		if !ok {
			return b, false, false
		}
		if drop {
			b, dropped = b[:start], true
			continue
		}
		sep = ','
	}
	if sep == '{' {
		return append(b, "{}"...), dropped, true
	}
	return append(b, '}'), false, true
}

// appendEdited writes the member's value v as ed says, in canonEdited's
// order: Drop, then Replace, then Members. drop reports that the member
// is to be left out.
func (m *editMember) appendEdited(b []byte, v reflect.Value, ed *Edits, depth int) (_ []byte, drop, _ bool) {
	switch {
	case ed.Drop:
		// Encoded all the same, so that a value the encoder declines
		// goes the two passes' way here too.
		b, ok := m.enc(b, v, depth)
		return b, true, ok
	case ed.Replace != nil && m.plainString:
		// What the second pass reads back from encodeString's output.
		s := v.String()
		if !utf8.ValidString(s) {
			s = replaceInvalidUTF8(s)
		}
		return appendCanonicalString(b, ed.Replace(s)), false, true
	case ed.Replace != nil:
		return m.replaceEncoded(b, v, ed.Replace, depth)
	case ed.Members != nil && m.quoted:
		return b, false, false // written by json.Marshal, as m.enc declines
	case ed.Members != nil:
		return appendValueEdited(b, v, ed.Members, depth)
	}
	b, ok := m.enc(b, v, depth)
	return b, false, ok
}

// replaceEncoded encodes v and replaces the string it wrote, as the second
// pass would; an encoding that is not a string is declined, for the second
// pass refuses to mask it.
func (m *editMember) replaceEncoded(b []byte, v reflect.Value, replace func(string) string, depth int) (_ []byte, drop, _ bool) {
	start := len(b)
	b, ok := m.enc(b, v, depth)
	if !ok || b[start] != '"' {
		return b, false, false
	}
	l := &lexer{data: b[start:]}
	s, ok := l.str() // a copy: b[start:] is overwritten next
	if !ok || !l.end() {
		return b, false, false
	}
	return appendCanonicalString(b[:start], replace(s)), false, true
}
