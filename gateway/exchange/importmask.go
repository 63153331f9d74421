package exchange

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
)

// An import decision usually only masks identifiers that the origin's
// export decision masked already, under the same agreement: applying it
// would copy the payload unchanged, at the cost of reading it once more.
// maskedAlready tells that case from the record decoded from the payload,
// without reading the payload.

// maskedAlready reports whether applying dec's obligations to the payload
// rec was decoded from would give the payload back unchanged because every
// obligation masks a string that is masked already. It answers false
// whenever it cannot be sure (a drop, a pattern it does not know, a path it
// cannot follow to a plain string): the obligations are then applied.
func maskedAlready(dec *policy.Decision, rec contracts.Record) bool {
	v := reflect.ValueOf(rec)
	for path, o := range dec.Obligations {
		if o.Action != policy.ActionMask {
			return false
		}
		s, ok := stringAt(v, path)
		if !ok {
			return false
		}
		masked, err := policy.Mask(o.Pattern, s)
		if err != nil || masked != s {
			return false
		}
	}
	return true
}

// stringAt is the string a record holds at a field path, when the path
// leads through non-nil pointers and structs to a non-empty string field
// that the record's JSON form writes as it is: then that string is the
// value at path in the payload the record was strictly decoded from.
func stringAt(rec reflect.Value, path string) (string, bool) {
	index, ok := stringField(rec.Type(), path)
	if !ok {
		return "", false
	}
	v := rec
	for _, i := range index {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return "", false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	s := v.String()
	return s, s != ""
}

type stringFieldKey struct {
	t    reflect.Type
	path string
}

type stringFieldIndex struct {
	index []int
	ok    bool
}

// stringFields caches stringField: a record type has a handful of masked
// paths.
var stringFields sync.Map // stringFieldKey -> stringFieldIndex

// stringField finds the fields, one per member of path, that lead from t
// to a plain string field (see stringAt); ok is false when there is none.
func stringField(t reflect.Type, path string) ([]int, bool) {
	key := stringFieldKey{t, path}
	if f, ok := stringFields.Load(key); ok {
		f := f.(stringFieldIndex)
		return f.index, f.ok
	}
	index, ok := findStringField(t, path)
	stringFields.Store(key, stringFieldIndex{index, ok})
	return index, ok
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

func findStringField(t reflect.Type, path string) ([]int, bool) {
	var index []int
	for {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || customJSON(t) {
			return nil, false
		}
		name, rest, nested := strings.Cut(path, ".")
		f, ok := fieldNamed(t, name)
		if !ok {
			return nil, false
		}
		index = append(index, f.Index[0])
		if !nested {
			if f.Type.Kind() != reflect.String || customJSON(f.Type) {
				return nil, false
			}
			return index, true
		}
		t, path = f.Type, rest
	}
}

// fieldNamed is the exported field of struct t whose JSON member name is
// name, declared directly in t (not promoted from an embedded struct).
func fieldNamed(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// customJSON reports whether t, or a pointer to it, reads or writes its JSON
// form by its own methods, so that its Go value need not be its JSON value.
func customJSON(t reflect.Type) bool {
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(jsonUnmarshaler) || x.Implements(textUnmarshaler) || x.Implements(jsonMarshaler) || x.Implements(textMarshaler) {
			return true
		}
	}
	return false
}
