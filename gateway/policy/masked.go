package policy

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	"github.com/laborlink/laborlink/contracts"
)

// An import decision usually only masks identifiers that the origin's
// export decision masked already, under the same agreement: applying it
// would copy the payload unchanged, at the cost of reading it once more.
// MaskedAlready tells that case from the record decoded from the payload,
// without reading the payload.

// MaskedAlready reports whether applying d's obligations to the payload rec
// was strictly decoded from would give that payload back unchanged, because
// every obligation masks a string that its pattern leaves as it is. It
// answers false whenever it cannot be sure (a drop, a pattern it does not
// know, a path it cannot follow to a plain string): the obligations must
// then be applied.
func (d *Decision) MaskedAlready(rec contracts.Record) bool {
	v := reflect.ValueOf(rec)
	for path, o := range d.Obligations {
		if o.Action != ActionMask {
			return false
		}
		s, ok := stringAt(v, path)
		if !ok {
			return false
		}
		masked, err := Mask(o.Pattern, s)
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
		i, ok := declaredField(t, name)
		if !ok {
			return nil, false
		}
		index = append(index, i)
		ft := t.Field(i).Type
		if !nested {
			if ft.Kind() != reflect.String || customJSON(ft) {
				return nil, false
			}
			return index, true
		}
		t, path = ft, rest
	}
}

// declaredField is the index of the field of struct t whose JSON member
// name (as structFields names it) is name, among the fields t declares
// itself. Embedded fields are left out, promoted or not: structFields does
// not resolve the name conflicts encoding/json does, and following the
// wrong field could answer true for a string the payload does not hold.
func declaredField(t reflect.Type, name string) (int, bool) {
	for _, f := range structFields(t) {
		if len(f.index) == 1 && !t.Field(f.index[0]).Anonymous && f.name == name {
			return f.index[0], true
		}
	}
	return 0, false
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// customJSON reports whether t, or a pointer to it, reads or writes its JSON
// form by its own methods, so that its Go value need not be its JSON value.
func customJSON(t reflect.Type) bool {
	if isSelfMarshaling(t) {
		return true
	}
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) ||
		p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler)
}
