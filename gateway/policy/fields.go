package policy

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// fieldsPresent lists the dotted paths of the leaves that encoding/json writes
// for rec: the field paths a policy decides on and Apply acts on. It walks the
// value with reflection instead of encoding and re-parsing JSON, which would
// cost more than a cached decision. Arrays, maps and values that marshal
// themselves (dates, times) are leaves; omitempty is honoured as encoding/json
// honours it. The result is sorted.
//
// Objects are not listed and arrays are not descended into ("events.kind"):
// obligations on such paths would drop a whole object or, inside an array,
// not be applicable by Apply. TestFieldsPresentMatchesJSON pins this.
func fieldsPresent(rec any) []string {
	out := make([]string, 0, 32)
	walkFields(reflect.ValueOf(rec), "", &out)
	// fieldsAt lists each struct's fields by name, so the walk comes out
	// sorted whenever no name holds a character that sorts before '.'.
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return out
}

// fieldInfo is one JSON field of a struct type reached by a path: its
// full dotted path is computed once per (type, prefix), not per record.
type fieldInfo struct {
	index     []int
	name      string
	path      string
	omitEmpty bool
	// leaf: the field's static type is neither a pointer, an interface nor
	// a struct that encoding/json walks, so its path is listed as is.
	leaf bool
}

type fieldsKey struct {
	t      reflect.Type
	prefix string
}

var (
	fieldCache     sync.Map // reflect.Type -> []fieldInfo (names only)
	pathCache      sync.Map // fieldsKey -> []fieldInfo (with paths)
	selfMarshalers sync.Map // reflect.Type -> bool

	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func walkFields(v reflect.Value, prefix string, out *[]string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			if prefix != "" {
				*out = append(*out, prefix)
			}
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || isSelfMarshaling(v.Type()) {
		if prefix != "" {
			*out = append(*out, prefix)
		}
		return
	}
	for _, f := range fieldsAt(v.Type(), prefix) {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || (f.omitEmpty && isEmptyValue(fv)) {
			continue
		}
		if f.leaf {
			*out = append(*out, f.path)
			continue
		}
		walkFields(fv, f.path, out)
	}
}

// fieldsAt is structFields of t with each field's path under prefix.
func fieldsAt(t reflect.Type, prefix string) []fieldInfo {
	key := fieldsKey{t, prefix}
	if fs, ok := pathCache.Load(key); ok {
		return fs.([]fieldInfo)
	}
	fs := slices.Clone(structFields(t))
	slices.SortFunc(fs, func(a, b fieldInfo) int { return strings.Compare(a.name, b.name) })
	for i := range fs {
		fs[i].path = join(prefix, fs[i].name)
		ft := fieldType(t, fs[i].index)
		fs[i].leaf = ft.Kind() != reflect.Pointer && ft.Kind() != reflect.Interface &&
			(ft.Kind() != reflect.Struct || isSelfMarshaling(ft))
	}
	pathCache.Store(key, fs)
	return fs
}

// fieldType is the static type of the field at index, through embedded
// pointers.
func fieldType(t reflect.Type, index []int) reflect.Type {
	for i, x := range index {
		if i > 0 && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		t = t.Field(x).Type
	}
	return t
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func isSelfMarshaling(t reflect.Type) bool {
	if self, ok := selfMarshalers.Load(t); ok {
		return self.(bool)
	}
	self := t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
	selfMarshalers.Store(t, self)
	return self
}

// fieldByIndex follows embedded pointers as encoding/json does: a nil
// embedded pointer contributes no fields.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// isEmptyValue is encoding/json's notion of empty for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// structFields lists a struct type's JSON fields, flattening embedded structs
// without a JSON name. Name conflicts between embedded fields do not occur in
// the contracts and are not resolved here.
func structFields(t reflect.Type) []fieldInfo {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]fieldInfo)
	}
	var fs []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for _, inner := range structFields(ft) {
				inner.index = append([]int{i}, inner.index...)
				fs = append(fs, inner)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, fieldInfo{index: []int{i}, name: name, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	fieldCache.Store(t, fs)
	return fs
}
