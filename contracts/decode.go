package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxRecordSize bounds the JSON form of one record or agreement. The largest
// valid transfer is a few KiB; the bound keeps a peer or submitter from making
// a node hold megabytes per record.
const MaxRecordSize = 64 << 10

// DecodeError says why a JSON document is not a record: where (the byte offset
// and, when known, the field path) and what is wrong.
type DecodeError struct {
	// Offset is the byte offset in the input near the problem; -1 when the
	// problem is the input as a whole.
	Offset int64
	// Path is the JSON path of the offending field, such as "worker.sex";
	// empty when the problem is not in a field.
	Path string
	// Message says what is wrong.
	Message string
}

// Error formats the problem with its location.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("decode")
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (offset %d)", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Decode decodes one record from its JSON form, choosing the type by its
// "schema" member. Decoding is strict: unknown fields, trailing data, a
// document larger than MaxRecordSize and a schema this build does not know are
// errors (a *DecodeError), and so are a member given twice and a member
// name in the wrong case. Decode does not validate; see Parse. On error the
// record is nil: nothing is ever half decoded.
func Decode(data []byte) (Record, error) {
	schema, err := peekSchema(data)
	if err != nil {
		return nil, err
	}
	return decodeAs(data, schema)
}

// decodeAs decodes a record of the type schema names, as Decode does once
// it has read the schema member. A document whose own schema member says
// otherwise decodes with that member as it is (the caller compares it) or
// fails on members the type does not have.
func decodeAs(data []byte, schema string) (Record, error) {
	if len(data) > MaxRecordSize {
		return nil, &DecodeError{Offset: -1, Message: fmt.Sprintf("document has %d bytes, more than the limit of %d", len(data), MaxRecordSize)}
	}
	rec := newRecord(schema)
	if rec == nil {
		if schema == SchemaAgreement {
			return nil, &DecodeError{Offset: -1, Path: "schema", Message: "an agreement is not a record that travels in an envelope; use DecodeAgreement"}
		}
		return nil, &DecodeError{Offset: -1, Path: "schema", Message: fmt.Sprintf("unknown schema %q; want one of %s, %s, %s, %s",
			schema, SchemaTransfer, SchemaConfirmation, SchemaReferral, SchemaReferralUpdate)}
	}
	l := &lexer{data: data, strs: new([]byte)}
	if !l.record(rec) || !l.end() {
		return nil, l.err
	}
	return rec, nil
}

// NewRecord is a new, empty record of type t, or nil for a type that does
// not travel in an envelope (an agreement) or is unknown: for code that
// needs each record type's Go type, as RecordTypes lists them.
func NewRecord(t RecordType) Record { return newRecord(SchemaFor(t)) }

// newRecord is a new, empty record of the type schema names, or nil for a
// schema that is not of a record that travels in an envelope.
func newRecord(schema string) Record {
	switch schema {
	case SchemaTransfer:
		return new(Transfer)
	case SchemaConfirmation:
		return new(Confirmation)
	case SchemaReferral:
		return new(Referral)
	case SchemaReferralUpdate:
		return new(ReferralUpdate)
	}
	return nil
}

// record decodes a record into rec, made by newRecord.
func (l *lexer) record(rec Record) bool {
	l.rtype, l.base = rec.Type(), l.depth
	ok := l.recordOf(rec)
	l.rtype = ""
	return ok
}

func (l *lexer) recordOf(rec Record) bool {
	switch r := rec.(type) {
	case *Transfer:
		return l.transfer(r)
	case *Confirmation:
		return l.confirmation(r)
	case *Referral:
		return l.referral(r)
	case *ReferralUpdate:
		return l.referralUpdate(r)
	}
	return l.fail("no decoder for %T", rec)
}

// DecodeAgreement decodes an agreement strictly, like Decode: unknown fields,
// a member given twice, a member name in the wrong case, a date, time or
// base64 that does not parse and trailing data are errors (a *DecodeError
// naming the member).
func DecodeAgreement(data []byte) (*Agreement, error) {
	schema, err := peekSchema(data)
	if err != nil {
		return nil, err
	}
	if schema != SchemaAgreement {
		return nil, &DecodeError{Offset: -1, Path: "schema", Message: fmt.Sprintf("is %q, want %q", schema, SchemaAgreement)}
	}
	if err := exactMembers(data, RecordAgreement); err != nil {
		return nil, err
	}
	// exactMembers has refused unknown members, trailing data and the
	// values encoding/json would refuse without naming them, so what is
	// left to fail here is a value of the wrong JSON kind, which
	// encoding/json names.
	a := new(Agreement)
	if err := json.Unmarshal(data, a); err != nil {
		return nil, decodeError(data, err)
	}
	return a, nil
}

// Parse decodes a record and validates it as of now: the one call a node makes
// on what a submitter or peer sent. The error is a *DecodeError or a
// ValidationError.
func Parse(data []byte, now time.Time) (Record, error) {
	rec, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := ValidateAt(rec, now); err != nil {
		return nil, err
	}
	return rec, nil
}

// peekSchema checks the document's size and outer shape and returns its
// "schema" member.
func peekSchema(data []byte) (string, error) {
	if len(data) > MaxRecordSize {
		return "", &DecodeError{Offset: -1, Message: fmt.Sprintf("document has %d bytes, more than the limit of %d", len(data), MaxRecordSize)}
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", &DecodeError{Offset: int64(len(data) - len(trimmed)), Message: "want a JSON object"}
	}
	schema, ok := scanSchema(trimmed)
	if !ok {
		schema, ok = lexSchema(data)
	}
	if !ok {
		var probe struct {
			Schema *string `json:"schema"`
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			return "", decodeError(data, err)
		}
		if probe.Schema == nil {
			return "", &DecodeError{Offset: -1, Path: "schema", Message: "is required"}
		}
		schema = *probe.Schema
	}
	return schema, nil
}

// scanSchema finds `"schema":"..."` when it is the first member, as canonical
// and generated records have it, without parsing the document. ok is false
// when the document is laid out otherwise; the caller then parses it.
func scanSchema(doc []byte) (string, bool) {
	const key = `{"schema":"`
	if !bytes.HasPrefix(doc, []byte(key)) {
		return "", false
	}
	rest := doc[len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// lexSchema reads the schema member wherever it is, with encoding/json's
// meaning (a name matched as encoding/json matches it, the last of repeated
// members wins) but none of its reflection. ok is false when the document
// is not well-formed, has no schema or a schema that is not a string: the
// caller's encoding/json path then says what is wrong, in its words.
func lexSchema(data []byte) (schema string, ok bool) {
	l := &lexer{data: data, maxNest: maxJSONNesting}
	found := false
	if !l.objectRepeating(func(key string) bool {
		// Folded, "schema" is 6 or 7 bytes long (a long s takes two).
		if key != "schema" && (len(key) < 6 || len(key) > 7 || foldedMember(key, []string{"schema"}) == "") {
			return l.skip()
		}
		if l.peek() != '"' {
			return false
		}
		schema, found = l.str()
		return found
	}) || !l.end() || !found {
		return "", false
	}
	return schema, true
}

// decodeError turns an encoding/json error into a DecodeError, naming the
// field where encoding/json does.
func decodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &DecodeError{Offset: syn.Offset, Message: strings.TrimPrefix(syn.Error(), "json: ")}
	case errors.As(err, &typ):
		msg := fmt.Sprintf("%s is not a valid %s", typ.Value, jsonKind(typ.Type.Kind().String()))
		return &DecodeError{Offset: typ.Offset, Path: typ.Field, Message: msg}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &DecodeError{Offset: int64(len(data)), Message: "unexpected end of the JSON document"}
	}
	return &DecodeError{Offset: -1, Message: strings.TrimPrefix(err.Error(), "json: ")}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32":
		return "integer"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return goKind
}
