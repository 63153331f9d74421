package contracts

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// FieldPaths returns every field path of a record type's JSON form, objects and
// leaves alike, in declaration order: "schema", ..., "worker", "worker.name",
// .... Array elements share their array's path ("events.kind"). Agreement scope
// rules and policy obligations name fields by these paths; nil for an unknown
// type.
func FieldPaths(t RecordType) []string {
	return slices.Clone(fieldPaths()[t])
}

// IsFieldPath reports whether path is one of FieldPaths(t).
func IsFieldPath(t RecordType, path string) bool {
	_, ok := fieldPathSet()[t][path]
	return ok
}

// The paths are derived once, by reflection over the Go types, so they never
// drift from the types; the results are immutable afterwards.
var fieldPaths = sync.OnceValue(func() map[RecordType][]string {
	m := make(map[RecordType][]string)
	for t, v := range recordPrototypes {
		m[t] = appendPaths(nil, "", reflect.TypeOf(v))
	}
	return m
})

// recordPrototypes are zero values of every type whose paths are derived.
var recordPrototypes = map[RecordType]any{
	RecordTransfer:       Transfer{},
	RecordConfirmation:   Confirmation{},
	RecordAgreement:      Agreement{},
	RecordReferral:       Referral{},
	RecordReferralUpdate: ReferralUpdate{},
}

var fieldPathSet = sync.OnceValue(func() map[RecordType]map[string]struct{} {
	m := make(map[RecordType]map[string]struct{})
	for t, paths := range fieldPaths() {
		set := make(map[string]struct{}, len(paths))
		for _, p := range paths {
			set[p] = struct{}{}
		}
		m[t] = set
	}
	return m
})

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	timeType      = reflect.TypeFor[time.Time]()
)

func appendPaths(paths []string, prefix string, t reflect.Type) []string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			paths = appendPaths(paths, prefix, ft)
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		paths = append(paths, path)
		if sub := elemStruct(ft); sub != nil {
			paths = appendPaths(paths, path+".", sub)
		}
	}
	return paths
}

// elemStruct returns the struct type whose fields sit below a field of type t
// in JSON (through pointers and slices), or nil when the field is a leaf.
func elemStruct(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8) {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) ||
		t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		return nil
	}
	return t
}

// valueKind marks leaves whose JSON strings encoding/json parses without
// saying which field failed: through a method, or as base64.
type valueKind uint8

const (
	kindOther valueKind = iota
	kindDate
	kindTime
	kindBytes
)

var (
	dateType  = reflect.TypeFor[Date]()
	bytesType = reflect.TypeFor[[]byte]()
)

// valueKinds maps, per record type, the paths of Date, time.Time and []byte
// leaves.
var valueKinds = sync.OnceValue(func() map[RecordType]map[string]valueKind {
	m := make(map[RecordType]map[string]valueKind)
	for t, v := range recordPrototypes {
		kinds := make(map[string]valueKind)
		collectKinds(kinds, "", reflect.TypeOf(v))
		m[t] = kinds
	}
	return m
})

func collectKinds(kinds map[string]valueKind, prefix string, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collectKinds(kinds, prefix, f.Type)
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || (ft.Kind() == reflect.Slice && ft != bytesType) {
			ft = ft.Elem()
		}
		switch {
		case ft == dateType:
			kinds[prefix+name] = kindDate
		case ft == timeType:
			kinds[prefix+name] = kindTime
		case ft == bytesType:
			kinds[prefix+name] = kindBytes
		default:
			if sub := elemStruct(f.Type); sub != nil {
				collectKinds(kinds, prefix+name+".", sub)
			}
		}
	}
}
