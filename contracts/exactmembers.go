package contracts

import (
	"slices"
	"strings"
	"time"
)

// exactMembers checks what the hand-written record decoders check and
// encoding/json does not, for a type decoded through encoding/json (an
// agreement): every member name is one of the type's, spelled exactly, and
// given once in its object. encoding/json folds case and keeps the last of
// a repeated member, so a file would read as one agreement and decode as
// another. It also checks the strings of dates, times and []byte fields as
// encoding/json will parse them, since encoding/json's errors for those
// name no field. The error is a *DecodeError naming the member by its path
// ("scope[1].purposes", "approvals[1].signature") and its offset; syntax
// errors are reported as the lexer finds them.
func exactMembers(data []byte, t RecordType) error {
	l := &lexer{data: data, maxNest: maxJSONNesting}
	if !l.exactObject(t, "") || !l.end() {
		return l.err
	}
	return nil
}

// exactObject reads an object whose members are the fields of t below
// parent, the field path of the object ("" for the document).
func (l *lexer) exactObject(t RecordType, parent string) bool {
	return l.object(func(key string) bool {
		path := key
		if parent != "" {
			path = parent + "." + key
		}
		if !IsFieldPath(t, path) {
			return l.unknownMember(t, parent, key)
		}
		return l.exactValue(t, path)
	})
}

// exactValue reads the value of the field at path: objects and arrays of
// objects where the field has fields below it, a string where the field is
// a date, a time or a []byte for what it says (see kindString), the
// elements of an array field for their kind (see arrayItems), anything
// else for its syntax alone (encoding/json then says when it is not of the
// field's type).
func (l *lexer) exactValue(t RecordType, path string) bool {
	if kind := valueKinds()[t][path]; kind != kindOther && l.peek() == '"' {
		return l.kindString(kind)
	}
	if items, ok := arrayItems[t][path]; ok && l.peek() == '[' {
		return l.array(func(int) bool { return l.exactItem(t, path, items) })
	}
	if !hasFieldsBelow(t, path) {
		return l.skip()
	}
	switch l.peek() {
	case '{':
		return l.exactObject(t, path)
	case '[':
		return l.array(func(int) bool { return l.exactValue(t, path) })
	}
	return l.skip()
}

// arrayItems names, per record type, the JSON kind of the elements of
// each array field, as its JSON Schema says (the test of DecodeAgreement
// tries every array the schema has). encoding/json refuses an element of
// another kind too, but names the array alone ("scope.purposes"), not
// which rule's nor which element.
var arrayItems = map[RecordType]map[string]string{
	RecordAgreement: {
		"scope": "object", "scope.purposes": "string", "scope.fields": "string", "scope.clear": "string",
		"quotas": "object", "approvals": "object",
	},
}

// exactItem reads an element of the array field at path, which holds
// values of the kind items. null is taken, as encoding/json takes it, for
// the zero value; an element of another kind is refused where it starts,
// once it is known to be JSON (a syntax error is reported as such).
func (l *lexer) exactItem(t RecordType, path, items string) bool {
	if l.null() {
		return true
	}
	if kind := l.kindAhead(); kind != items {
		start := l.pos
		if !l.skip() {
			return false
		}
		l.pos = start
		return l.fail("%s is not a valid %s", kind, items)
	}
	return l.exactValue(t, path)
}

// kindString reads a string of a date, a time or a []byte, failing where
// encoding/json's decoding of it would: it decodes the string, into a
// value it drops, with the readers the record and envelope decoders use,
// which FuzzDecodeEquivalence and FuzzDecodeEnvelopeEquivalence hold to
// encoding/json.
func (l *lexer) kindString(kind valueKind) bool {
	switch kind {
	case kindDate:
		var d Date
		return l.dateInto(&d)
	case kindTime:
		var at time.Time
		return l.timeInto(&at)
	case kindBytes:
		var b []byte
		return l.base64Into(&b)
	}
	return l.skip()
}

// hasFieldsBelow reports whether the field at path is an object (or an
// array of them) with fields of its own.
func hasFieldsBelow(t RecordType, path string) bool {
	prefix := path + "."
	return slices.ContainsFunc(fieldPaths()[t], func(p string) bool { return strings.HasPrefix(p, prefix) })
}

// unknownMember fails on key, not a field of t below parent, saying which
// field it is when only its case is wrong.
func (l *lexer) unknownMember(t RecordType, parent, key string) bool {
	prefix := parent + "."
	if parent == "" {
		prefix = ""
	}
	var siblings []string
	for _, p := range fieldPaths()[t] {
		if name, ok := strings.CutPrefix(p, prefix); ok && !strings.Contains(name, ".") {
			siblings = append(siblings, name)
		}
	}
	if name := foldedMember(key, siblings); name != "" {
		return l.fail("unknown field; member names are case-sensitive: did you mean %q?", name)
	}
	return l.fail("unknown field; the contract has no such member")
}
