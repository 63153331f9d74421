package contracts

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Canonical returns the RFC 8785 (JSON Canonicalization Scheme) encoding of v's
// JSON form: object members sorted by the UTF-16 code units of their names, no
// insignificant white space, strings escaped minimally. Both ends of a border
// hash this encoding, so it must never depend on field order or on how a
// record was typed in.
//
// Numbers must be integers within ±2^53, which is all the contracts use (money
// is in fen); anything else is an error rather than a silently different digest.
//
// The result is CanonicalizeJSON of json.Marshal(v), byte for byte and error
// for error, but written straight from v by the canonical encoder (see
// canonencode.go): every exported record goes through here, and encoding it
// with json.Marshal and then reading that back costs about seven times as much.
func Canonical(v any) ([]byte, error) {
	return canonicalEdited(v, nil)
}

// canonicalEdited is Canonical edited by edit, when it is not nil: in one
// pass when the encoder can carry out edit's edits itself, or else encoded
// and then passed to edit.ApplyCanonical straight from the pooled buffer
// it was encoded in.
func canonicalEdited(v any, edit PayloadEditor) ([]byte, error) {
	buf := canonBuffers.Get().(*[]byte)
	defer putCanonBuffer(buf)
	if edit != nil {
		if edits := edit.CanonicalEdits(); edits != nil {
			b, ok := appendCanonicalEdited((*buf)[:0], v, edits)
			*buf = b
			if ok {
				return slices.Clone(b), nil
			}
		}
	}
	b, err := appendCanonical((*buf)[:0], v)
	*buf = b
	if err != nil {
		return nil, err
	}
	if edit != nil {
		return edit.ApplyCanonical(b)
	}
	return slices.Clone(b), nil
}

// appendCanonical appends v's canonical encoding to b: from the canonical
// encoder, or, for a value it declines, from json.Marshal and
// CanonicalizeJSON, which also say what is wrong with a value that has no
// canonical encoding.
func appendCanonical(b []byte, v any) ([]byte, error) {
	if out, ok := appendCanonicalValue(b, v); ok {
		return out, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	c, err := CanonicalizeJSON(raw)
	if err != nil {
		return b, err
	}
	return append(b, c...), nil
}

// canonBuffers holds buffers for canonical encodings, so that Digest
// allocates nothing and Canonical only its result.
var canonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledCanonBuffer bounds the buffers kept in canonBuffers, so that one
// huge value does not pin its buffer.
const maxPooledCanonBuffer = 64 << 10

// putCanonBuffer returns a buffer to canonBuffers unless it grew too large.
func putCanonBuffer(buf *[]byte) {
	if cap(*buf) <= maxPooledCanonBuffer {
		canonBuffers.Put(buf)
	}
}

// CanonicalizeJSON rewrites a JSON document into its RFC 8785 canonical form.
// A member name given twice in one object is an error: RFC 8785 works on
// I-JSON, where names are unique, and a digest must not depend on which of
// two values a reader keeps.
func CanonicalizeJSON(doc []byte) ([]byte, error) {
	l := &lexer{data: doc}
	out, ok := l.canon(make([]byte, 0, len(doc)))
	if !ok || !l.end() {
		return nil, fmt.Errorf("canonicalize: %w", l.err)
	}
	return out, nil
}

// Edits says what CanonicalizeJSONEdit does with one object member. It lets
// a caller that rewrites parts of a record (policy obligations) do so while
// canonicalizing, in one pass, instead of through a generic tree.
type Edits struct {
	// Drop leaves the member out. An object that drops leave without
	// members is left out of its parent in turn (but never the document).
	Drop bool
	// Replace rewrites the member's value, which must be a string.
	Replace func(string) string
	// Members edits the members of the member's value when that is an
	// object; for any other value they are ignored.
	Members map[string]*Edits
}

// CanonicalizeJSONEdit is CanonicalizeJSON of a JSON object with its members
// edited on the way, as edits (by member name, nested by Edits.Members) say.
// Drop wins over Replace, and Replace over Members; a Replace of a value that
// is not a string is an error.
func CanonicalizeJSONEdit(doc []byte, edits map[string]*Edits) ([]byte, error) {
	return (&lexer{data: doc}).editObject(edits)
}

// EditCanonicalJSON is CanonicalizeJSONEdit of a document that is already
// in canonical form, as Canonical and DecodeEnvelope make payloads: the
// members it does not edit are checked and copied as they are instead of
// being canonicalized again. Given a document that is not canonical, its
// result may not be either.
func EditCanonicalJSON(doc []byte, edits map[string]*Edits) ([]byte, error) {
	return (&lexer{data: doc, canonical: true}).editObject(edits)
}

// editObject reads the lexer's document, which must be one object, and
// writes it edited in canonical form.
func (l *lexer) editObject(edits map[string]*Edits) ([]byte, error) {
	if l.peek() != '{' {
		l.fail("the document is %s, not an object", l.kindAhead())
		return nil, fmt.Errorf("canonicalize: %w", l.err)
	}
	out, _, ok := l.canonObjectEdit(make([]byte, 0, len(l.data)), edits)
	if !ok || !l.end() {
		return nil, fmt.Errorf("canonicalize: %w", l.err)
	}
	return out, nil
}

// Digest is the SHA-256 of v's canonical encoding.
func Digest(v any) ([32]byte, error) {
	buf := canonBuffers.Get().(*[]byte)
	defer putCanonBuffer(buf)
	b, err := appendCanonical((*buf)[:0], v)
	*buf = b
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}
