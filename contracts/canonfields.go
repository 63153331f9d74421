package contracts

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// What a struct encodes to, found as encoding/json finds it (its typeFields,
// isValidTag and isEmptyValue, and omitzero's IsZero), so that the canonical
// encoder writes the members json.Marshal writes: exported fields, named by
// their json tag or else their Go name, "-" left out, fields of embedded
// structs promoted, and of two fields with one name the one Go's embedding
// rules (modified by tags) pick, or neither.

// jsonField is one member of a struct's JSON encoding.
type jsonField struct {
	name string
	// tagged says the name came from a json tag.
	tagged bool
	// index leads to the field through embedded structs, as for
	// reflect.Value.FieldByIndex (except that embedded pointers may be nil).
	index []int
	typ   reflect.Type
	// omitEmpty, omitZero and quoted are the tag's omitempty, omitzero and
	// string options; quoted only where it applies.
	omitEmpty, omitZero, quoted bool
}

// embedded is an embedded struct type to look through for fields, and
// where it sits.
type embedded struct {
	typ   reflect.Type
	index []int
}

// jsonFields returns the members struct type t encodes to, in field order.
// It looks through embedded structs breadth first, one depth at a time, so
// that shallower fields hide deeper ones of the same name.
func jsonFields(t reflect.Type) []jsonField {
	var current []embedded
	next := []embedded{{typ: t}}
	// count and nextCount count the embeddings of each struct type at the
	// current depth and the next; a type embedded twice at one depth has
	// its fields recorded twice, so that they annihilate.
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []jsonField
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := range e.typ.NumField() {
				f, embed, ok := structField(e.typ.Field(i), e.index, i)
				switch {
				case !ok:
				case embed != nil:
					nextCount[embed.typ]++
					if nextCount[embed.typ] == 1 {
						next = append(next, *embed)
					}
				default:
					fields = append(fields, f)
					if count[e.typ] > 1 {
						fields = append(fields, f)
					}
				}
			}
		}
	}
	return dominantFields(fields)
}

// structField reads field i of a struct found at index: a member, or an
// embedded struct to look through (embed), or nothing (ok false).
func structField(sf reflect.StructField, index []int, i int) (f jsonField, embed *embedded, ok bool) {
	if sf.Anonymous {
		t := sf.Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		// Embedded structs of unexported types may have exported fields.
		if !sf.IsExported() && t.Kind() != reflect.Struct {
			return f, nil, false
		}
	} else if !sf.IsExported() {
		return f, nil, false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return f, nil, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if !isValidTag(name) {
		name = ""
	}
	index = append(index[:len(index):len(index)], i)
	ft := sf.Type
	if ft.Name() == "" && ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
		return f, &embedded{typ: ft, index: index}, true
	}
	f = jsonField{
		name:      name,
		tagged:    name != "",
		index:     index,
		typ:       sf.Type,
		omitEmpty: hasTagOption(opts, "omitempty"),
		omitZero:  hasTagOption(opts, "omitzero"),
		quoted:    hasTagOption(opts, "string") && quotable(ft.Kind()),
	}
	if name == "" {
		f.name = sf.Name
	}
	return f, nil, true
}

// quotable reports whether the string option applies to a kind: only
// strings, floats, integers and booleans can be quoted.
func quotable(k reflect.Kind) bool {
	switch k {
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.String:
		return true
	}
	return false
}

// dominantFields keeps, of the fields sharing a name, the one that
// dominates: the shallowest, then a tagged one; two equally good ones
// hide each other and both go. The result is in field order.
func dominantFields(fields []jsonField) []jsonField {
	slices.SortFunc(fields, func(a, b jsonField) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		n := 1
		for i+n < len(fields) && fields[i+n].name == fields[i].name {
			n++
		}
		if n == 1 || len(fields[i].index) != len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			out = append(out, fields[i])
		}
		i += n
	}
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

// hasTagOption reports whether a tag's comma-separated options include name.
func hasTagOption(opts, name string) bool {
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		if opt == name {
			return true
		}
	}
	return false
}

// isValidTag reports whether a tag's name may name a member: letters,
// digits and punctuation other than the quote and the backslash.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// isEmptyValue reports whether omitempty leaves v out. Structs are never empty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZeroer is what a type implements to say for omitzero when it is zero.
type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

// zeroTest returns how omitzero decides that a value of t is zero: its
// IsZero method if it has one (nil pointers and interfaces being zero, and
// a method with a pointer receiver called on a copy when the value is not
// addressable), otherwise reflect's zero value.
func zeroTest(t reflect.Type) func(reflect.Value) bool {
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if v.IsNil() || v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil() {
				return true
			}
			z, _ := reflect.TypeAssert[isZeroer](v)
			return z.IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if v.IsNil() {
				return true
			}
			z, _ := reflect.TypeAssert[isZeroer](v)
			return z.IsZero()
		}
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			z, _ := reflect.TypeAssert[isZeroer](v)
			return z.IsZero()
		}
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				c := reflect.New(v.Type()).Elem()
				c.Set(v)
				v = c
			}
			z, _ := reflect.TypeAssert[isZeroer](v.Addr())
			return z.IsZero()
		}
	}
	return reflect.Value.IsZero
}
