package policy

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// walkPresent lists the paths presentIn finds by walking the value itself,
// for a type that has no fieldPlan.
func walkPresent(rec any) []string {
	out := make([]string, 0, 32)
	walkFields(reflect.ValueOf(rec), "", &out)
	// fieldsAt lists each struct's fields by name, so the walk comes out
	// sorted whenever no name holds a character that sorts before '.'.
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return out
}

// presentFields are the field paths present in a record (presentIn): as
// a set of its type's possible paths when the type has a plan, which is
// what a cache hit reads, or else as the list.
type presentFields struct {
	plan *fieldPlan
	bits uint64 // plan.paths[i] is present when bit i is set
	list []string
}

// presentIn finds the dotted paths of the leaves that encoding/json writes
// for rec: the field paths a policy decides on and Apply acts on. It walks
// the value with reflection (or its type's plan) instead of encoding and
// re-parsing JSON, which would cost more than a cached decision. Arrays,
// maps and values that marshal themselves (dates, times) are leaves;
// omitempty is honoured as encoding/json honours it. paths lists them
// sorted.
//
// Objects are not listed and arrays are not descended into ("events.kind"):
// obligations on such paths would drop a whole object or, inside an array,
// not be applicable by Apply. TestFieldsPresentMatchesJSON pins this.
func presentIn(rec any) presentFields {
	plan := planFor(reflect.TypeOf(rec))
	if plan == nil {
		return presentFields{list: walkPresent(rec)}
	}
	return presentFields{plan: plan, bits: plan.present(reflect.ValueOf(rec))}
}

// paths lists the paths present, sorted.
func (f presentFields) paths() []string {
	if f.plan == nil {
		return f.list
	}
	out := make([]string, 0, 32)
	for i, p := range f.plan.paths {
		if f.bits&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// has reports whether path is present.
func (f presentFields) has(path string) bool {
	if f.plan == nil {
		return slices.Contains(f.list, path)
	}
	i, ok := slices.BinarySearch(f.plan.paths, path)
	return ok && f.bits&(1<<i) != 0
}

// fieldPlan is what walkFields would do for every value of one type, worked
// out once: each path the walk may list, sorted, gets a bit, and present
// walks a value to the set of its paths without building a list. Most
// paths are listed whenever their struct is (fields without omitempty), and
// are one mask; only the others are looked at per value.
type fieldPlan struct {
	id    uint64
	paths []string
	root  *structPlan // nil when the value is never a struct
	ptrs  int         // pointers to go through to the root
}

// structPlan is one struct of a fieldPlan.
type structPlan struct {
	always uint64 // bits of the fields listed whenever this struct is walked
	steps  []fieldStep
}

// fieldStep is a field of a struct whose listing depends on its value.
type fieldStep struct {
	index     []int
	omitEmpty bool
	// ptrs is how many pointers lead to the field's value: when one of them
	// is nil, the field's own path is listed as a leaf.
	ptrs int
	bit  uint64      // the field's own path
	sub  *structPlan // the struct the field leads to, or nil for a leaf
}

// present is the set of paths walkFields lists for v, of the plan's type.
func (p *fieldPlan) present(v reflect.Value) uint64 {
	for range p.ptrs {
		if v.IsNil() {
			return 0
		}
		v = v.Elem()
	}
	if p.root == nil {
		return 0
	}
	return p.root.present(v)
}

func (s *structPlan) present(v reflect.Value) uint64 {
	bits := s.always
	for i := range s.steps {
		f := &s.steps[i]
		fv, ok := fieldByIndex(v, f.index)
		if !ok || (f.omitEmpty && isEmptyValue(fv)) {
			continue
		}
		if f.sub == nil && f.ptrs == 0 {
			bits |= f.bit
			continue
		}
		bits |= f.leads(fv)
	}
	return bits
}

// leads is the set a field with pointers or a struct below it adds.
func (f *fieldStep) leads(v reflect.Value) uint64 {
	for range f.ptrs {
		if v.IsNil() {
			return f.bit
		}
		v = v.Elem()
	}
	if f.sub == nil {
		return f.bit
	}
	return f.sub.present(v)
}

var (
	plans      sync.Map // reflect.Type -> *fieldPlan, nil for none
	lastPlanID atomic.Uint64
)

// planFor is the fieldPlan of values of type t, or nil when t has none: an
// interface below it (the walk then depends on each value's dynamic type),
// more paths than bits, or a path listed by two fields.
func planFor(t reflect.Type) *fieldPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*fieldPlan)
	}
	p := newFieldPlan(t)
	if p != nil {
		p.id = lastPlanID.Add(1)
	}
	if p, loaded := plans.LoadOrStore(t, p); loaded {
		return p.(*fieldPlan)
	}
	return p
}

// maxPlanDepth bounds the structs within structs a plan follows; a type
// that nests deeper (or contains itself) is walked instead.
const maxPlanDepth = 16

func newFieldPlan(t reflect.Type) *fieldPlan {
	if t == nil {
		return nil
	}
	p := &fieldPlan{}
	for t.Kind() == reflect.Pointer {
		t, p.ptrs = t.Elem(), p.ptrs+1
	}
	if t.Kind() == reflect.Interface {
		return nil
	}
	b := planBuilder{bits: map[string]uint64{}}
	if t.Kind() == reflect.Struct && !isSelfMarshaling(t) {
		// The paths first, to number them in order; then the steps.
		if !b.collect(t) || len(b.paths) > 64 {
			return nil
		}
		slices.Sort(b.paths)
		for i, path := range b.paths {
			b.bits[path] = 1 << i
		}
		p.root = b.structPlan(t, "")
	}
	p.paths = b.paths
	return p
}

// planBuilder numbers the paths of a fieldPlan.
type planBuilder struct {
	paths []string
	bits  map[string]uint64
}

// collect adds the paths walkFields may list for a struct of type t; false
// when the plan cannot hold them.
func (b *planBuilder) collect(t reflect.Type) bool {
	return walkPaths(t, "", 0, func(path string) bool {
		if _, dup := b.bits[path]; dup {
			return false
		}
		b.bits[path] = 0
		b.paths = append(b.paths, path)
		return true
	})
}

// walkPaths calls add with each path walkFields may list for a struct of
// type t at prefix, depth structs down, objects before their fields. It
// stops with false where add does, at an interface (whose paths depend on
// each value) and below maxPlanDepth.
func walkPaths(t reflect.Type, prefix string, depth int, add func(path string) bool) bool {
	if depth > maxPlanDepth {
		return false
	}
	for _, f := range fieldsAt(t, prefix) {
		if !add(f.path) {
			return false
		}
		if f.leaf {
			continue
		}
		sub, _, ok := below(fieldType(t, f.index))
		if !ok || (sub != nil && !walkPaths(sub, f.path, depth+1, add)) {
			return false
		}
	}
	return true
}

// structPlan plans a struct of type t at prefix, once collect has numbered
// its paths.
func (b *planBuilder) structPlan(t reflect.Type, prefix string) *structPlan {
	s := &structPlan{}
	for _, f := range fieldsAt(t, prefix) {
		bit := b.bits[f.path]
		if f.leaf && !f.omitEmpty && !viaPointer(t, f.index) {
			s.always |= bit
			continue
		}
		step := fieldStep{index: f.index, omitEmpty: f.omitEmpty, bit: bit}
		if !f.leaf {
			var sub reflect.Type
			sub, step.ptrs, _ = below(fieldType(t, f.index))
			if sub != nil {
				step.sub = b.structPlan(sub, f.path)
			}
		}
		s.steps = append(s.steps, step)
	}
	return s
}

// viaPointer reports whether the field at index is reached through an
// embedded pointer, which may be nil.
func viaPointer(t reflect.Type, index []int) bool {
	for _, x := range index[:len(index)-1] {
		t = t.Field(x).Type
		if t.Kind() == reflect.Pointer {
			return true
		}
	}
	return false
}

// below is what walkFields finds under a field of static type t that is
// not a leaf: the struct it walks (nil when it lists the field as a leaf)
// through ptrs pointers. ok is false for an interface, whose walk depends
// on the value.
func below(t reflect.Type) (sub reflect.Type, ptrs int, ok bool) {
	for t.Kind() == reflect.Pointer {
		t, ptrs = t.Elem(), ptrs+1
	}
	switch {
	case t.Kind() == reflect.Interface:
		return nil, 0, false
	case t.Kind() != reflect.Struct || isSelfMarshaling(t):
		return nil, ptrs, true
	}
	return t, ptrs, true
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
