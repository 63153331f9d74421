package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The wire formats around the records (a submission's {"records": [...]},
// a delivery's {"chain": ..., "envelopes": [...]}) carry records and
// envelopes that are decoded on their own afterwards. RawObject and RawArray
// split such a document into those parts in one pass over its bytes, with
// the parts left as slices of it: the generic route (encoding/json into
// json.RawMessage) scans every byte twice and copies each part.

// RawObject calls member, in order, with the name and raw value of each
// member of the JSON object in data, after checking the whole document's
// syntax. A name given twice is an error, and so is an error from member,
// which it returns wrapped with the member's name. The values are slices of
// data.
func RawObject(data []byte, member func(name string, value json.RawMessage) error) error {
	_, err := RawObjectSplit(data, "", member)
	return err
}

// RawObjectSplit is RawObject that also splits the value of the member named
// split, when that is an array, into its elements in the same pass, as
// RawArray would: a submission's records or a delivery's envelopes are read
// once, not once for the object and again for the array. elems is nil when
// no such member holds an array (the caller then reads member's value, as
// RawArray would, to tell null from a value of the wrong kind).
func RawObjectSplit(data []byte, split string, member func(name string, value json.RawMessage) error) (elems []json.RawMessage, err error) {
	err = splitObject(data, split, func(l *lexer) (ok bool) {
		elems, ok = l.rawElements()
		return ok
	}, member)
	if err != nil {
		return nil, err
	}
	return elems, nil
}

// splitObject reads the object in data for RawObjectSplit and
// SplitEnvelopes: elements reads the value of the member named split when
// it is an array; member gets every member once the document's syntax is
// checked.
func splitObject(data []byte, split string, elements func(l *lexer) bool, member func(name string, value json.RawMessage) error) error {
	l := &lexer{data: data, maxNest: maxJSONNesting}
	type part struct {
		name  string
		value json.RawMessage
	}
	var parts []part
	if !l.object(func(name string) bool {
		l.ws()
		start := l.pos
		if split != "" && name == split && l.peek() == '[' {
			if !elements(l) {
				return false
			}
		} else if !l.skipRaw() {
			return false
		}
		parts = append(parts, part{name, data[start:l.pos]})
		return true
	}) || !l.end() {
		return l.err
	}
	for _, p := range parts {
		if err := member(p.name, p.value); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// RawArray returns the elements of the JSON array in data as slices of it,
// after checking the array's syntax. null is a nil slice and [] an empty
// one, as encoding/json reads them.
func RawArray(data []byte) ([]json.RawMessage, error) {
	l := &lexer{data: data, maxNest: maxJSONNesting}
	l.ws()
	if l.null() {
		if !l.end() {
			return nil, l.err
		}
		return nil, nil
	}
	if l.peek() != '[' {
		l.fail("want an array, not %s", l.kindAhead())
		return nil, l.err
	}
	out, ok := l.rawElements()
	if !ok || !l.end() {
		return nil, l.err
	}
	return out, nil
}

// rawElements reads the array that comes next and returns its elements as
// slices of the document, an empty array as an empty slice.
func (l *lexer) rawElements() ([]json.RawMessage, bool) {
	out := []json.RawMessage{}
	ok := l.array(func(int) bool {
		l.ws()
		start := l.pos
		if !l.skipRaw() {
			return false
		}
		out = append(out, l.data[start:l.pos])
		return true
	})
	return out, ok
}

// EnvelopeType reads the record type an encoded envelope names without
// decoding the rest of it: from the prefix Envelope.AppendJSON writes,
// {"id":"…","type":"…", when it is there, else by splitting the object. It
// answers "" for anything that names no type, and is for labels and logs,
// not for deciding: it checks nothing else.
func EnvelopeType(data []byte) RecordType {
	const idPrefix, typePrefix = `{"id":"`, `","type":"`
	if rest, ok := bytes.CutPrefix(data, []byte(idPrefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i >= 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			if t, ok := bytes.CutPrefix(rest[i:], []byte(typePrefix)); ok {
				if j := bytes.IndexByte(t, '"'); j >= 0 && bytes.IndexByte(t[:j], '\\') < 0 {
					return RecordType(t[:j])
				}
			}
		}
	}
	var t RecordType
	RawObject(data, func(name string, v json.RawMessage) error {
		if name == "type" {
			json.Unmarshal(v, &t)
		}
		return nil
	})
	return t
}
