package api

import (
	"reflect"
	"strings"
	"sync"
)

// api/openapi.yaml describes every list an answer carries as an array, and
// a client iterating one fails on null; encoding/json writes a nil slice
// as null, and a store or log with nothing to list gives nil. Rather than
// each endpoint remembering to make its empty lists, encodeJSON hands every
// answer through emptyLists, so a route added later answers [] as well.

// emptyLists returns resp with its nil lists made empty: resp itself when
// it is one (GET /api/v1/audit/raw), or the members of the struct it is,
// or points to, including those of structs it embeds and a list held in a
// member of interface type (a status's peers). Lists within those members
// (an item's own) are not looked into, which would cost a pass over every
// item: each is omitted when empty, or made by what fills it (audit
// stats' overdue); TestEmptyAnswersListAsArrays (gateway/node) holds the
// answers to api/openapi.yaml at every depth. A member omitted when empty
// (omitempty, omitzero) stays omitted, and bytes ([]byte, json.RawMessage)
// are left alone: their null is a value (an inbox item's pruned envelope),
// never an empty list. resp is not changed: a member set is set on a
// shallow copy, made only when there is one to set.
func emptyLists(resp any) any {
	v := reflect.ValueOf(resp)
	if empty, ok := emptyList(v); ok {
		return empty.Interface()
	}
	switch {
	case v.Kind() == reflect.Struct:
		if c, ok := withEmptyLists(v); ok {
			return c.Interface()
		}
	case v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct:
		if c, ok := withEmptyLists(v.Elem()); ok {
			return c.Addr().Interface()
		}
	}
	return resp
}

// emptyList returns an empty list of v's type when v is a nil list.
func emptyList(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() != reflect.Slice || !v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
		return reflect.Value{}, false
	}
	return reflect.MakeSlice(v.Type(), 0, 0), true
}

// withEmptyLists returns an addressable copy of the struct v with its nil
// lists made empty, or false when it has none.
func withEmptyLists(v reflect.Value) (reflect.Value, bool) {
	var c reflect.Value
	for _, index := range listMembers(v.Type()) {
		f := v.FieldByIndex(index)
		held := f
		if f.Kind() == reflect.Interface {
			held = f.Elem()
		}
		empty, ok := emptyList(held)
		if !ok {
			continue
		}
		if !c.IsValid() {
			c = reflect.New(v.Type()).Elem()
			c.Set(v)
		}
		c.FieldByIndex(index).Set(empty)
	}
	return c, c.IsValid()
}

// listTypes caches listMembers by struct type: answers are of a few types,
// and their members need not be looked through on every request.
var listTypes sync.Map // reflect.Type -> [][]int

// listMembers returns the indexes (reflect.Value.FieldByIndex) of the
// members of the struct type t that may hold a list JSON writes: exported,
// neither left out (json:"-") nor omitted when empty, of a slice type or
// an interface type, and settable on a copy of a t (onCopy).
func listMembers(t reflect.Type) [][]int {
	if ms, ok := listTypes.Load(t); ok {
		return ms.([][]int)
	}
	var ms [][]int
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous || !onCopy(t, f.Index) {
			continue
		}
		if k := f.Type.Kind(); k != reflect.Slice && k != reflect.Interface {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" || omitted(opts) {
			continue
		}
		ms = append(ms, f.Index)
	}
	listTypes.Store(t, ms)
	return ms
}

// onCopy reports whether the member of t at index is in a copy of a t
// value itself, reached through exported embedded structs only: one
// reached through an embedded pointer is shared with resp, and must not be
// set, and one through an unexported embedded struct cannot be.
func onCopy(t reflect.Type, index []int) bool {
	for i := 1; i < len(index); i++ {
		if f := t.FieldByIndex(index[:i]); !f.IsExported() || f.Type.Kind() != reflect.Struct {
			return false
		}
	}
	return true
}

// omitted reports whether a json tag's options leave the member out when
// it is empty.
func omitted(opts string) bool {
	for opt := range strings.SplitSeq(opts, ",") {
		if opt == "omitempty" || opt == "omitzero" {
			return true
		}
	}
	return false
}
