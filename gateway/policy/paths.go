package policy

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/laborlink/laborlink/contracts"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Apply acts on a path only down to arrays, and ignores a path the record
// does not have: an obligation on any other path would do nothing, silently,
// however much its author meant it to hide. Such a path in a province
// policy is refused when the policy is loaded (checkProvinceObligations, for
// the paths written out in its rules) and when a decision is decoded
// (checkObligationPath, for the paths it computes).

// obligationTargets maps each record type to the paths an obligation can act
// on: every object and leaf of its JSON form, arrays included as a whole but
// nothing inside them, as presentIn lists fields.
var obligationTargets = sync.OnceValue(func() map[contracts.RecordType]map[string]bool {
	types := contracts.RecordTypes()
	m := make(map[contracts.RecordType]map[string]bool, len(types))
	for _, rt := range types {
		set := map[string]bool{}
		// Record types hold no interface and nest shallowly, so the walk
		// lists every path (TestObligationTargetsCoverRecordTypes).
		walkPaths(reflect.TypeOf(contracts.NewRecord(rt)).Elem(), "", 0, func(path string) bool {
			set[path] = true
			return true
		})
		m[rt] = set
	}
	return m
})

// checkObligationPath refuses an obligation path that cannot be carried
// out on a record of type rt: one inside an array, or one that is a field
// of no record type at all (a misspelt path, say). A path that is a field
// of other record types only is let through: a province rule may well
// oblige a field wherever it appears ("worker.birth_date" of every export),
// and on this record it is simply absent. With rt empty (a policy being
// loaded, no record yet) a path must be one of some record type.
func checkObligationPath(rt contracts.RecordType, path string) error {
	all := obligationTargets()
	if targets, ok := all[rt]; ok {
		if targets[path] {
			return nil
		}
		if contracts.IsFieldPath(rt, path) {
			return insideArray(rt, path)
		}
	}
	types := slices.Sorted(maps.Keys(all))
	for _, other := range types {
		if all[other][path] {
			return nil
		}
	}
	for _, other := range types {
		if contracts.IsFieldPath(other, path) {
			return insideArray(other, path)
		}
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	if rt != "" {
		return fmt.Errorf("obligation path %q names no field of a %s record, nor of any other record type (%s)", path, rt, strings.Join(names, ", "))
	}
	return fmt.Errorf("obligation path %q names no field of any record type (%s)", path, strings.Join(names, ", "))
}

// insideArray is the error for a path of a record type that goes inside
// one of its arrays.
func insideArray(rt contracts.RecordType, path string) error {
	targets := obligationTargets()[rt]
	array := path
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if targets[path[:i]] {
			array = path[:i]
			break
		}
	}
	return fmt.Errorf("obligation path %q goes inside the array %s of a %s record; an obligation acts on a whole array, not on its elements",
		path, array, rt)
}

// checkProvinceObligations refuses a province policy whose obligations rules
// name, as a constant, a path no obligation can act on. Paths a rule computes
// are checked on each decision instead.
func checkProvinceObligations(mods map[string]*ast.Module) error {
	for _, name := range sortedKeys(mods) {
		m := mods[name]
		if strings.TrimPrefix(m.Package.Path.String(), "data.") != ProvincePackage {
			continue
		}
		for _, r := range m.Rules {
			for _, path := range constantObligationPaths(r.Head) {
				if err := checkObligationPath("", path); err != nil {
					return fmt.Errorf("%s:%d: %w", name, r.Location.Row, err)
				}
			}
		}
	}
	return nil
}

// UnreadProvinceRules lists, as "file:line: ...", the deny and obligations
// rules of province, a province policy, that no decision reads: the engine
// reads laborlink.province.deny and .obligations only, so one written in a
// package below it (a helper package, say) is compiled and never applied,
// a deny that denies nothing. Tests are left out. They are not refused (a
// helper package may name a rule so for its own use): nodes log them as
// they load the policy, and `policy test` prints them.
func UnreadProvinceRules(province Layer) ([]string, error) {
	mods, err := province.parse(ProvincePackage, false)
	if err != nil {
		return nil, err
	}
	return unreadProvinceRules(mods), nil
}

func unreadProvinceRules(mods map[string]*ast.Module) []string {
	var unread []string
	for _, name := range sortedKeys(mods) {
		m := mods[name]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if pkg == ProvincePackage {
			continue
		}
		for _, r := range m.Rules {
			ref := r.Head.Ref()
			if len(ref) == 0 {
				continue
			}
			if head := ref[0].String(); head == "deny" || head == "obligations" {
				unread = append(unread, fmt.Sprintf("%s:%d: %s in package %s is never read: decisions read %s.%s only",
					name, r.Location.Row, head, pkg, ProvincePackage, head))
			}
		}
	}
	return unread
}

// constantObligationPaths are the paths a rule head gives obligations
// literally: obligations["a.b"] := ..., obligations.a := ..., or
// obligations := {"a.b": ...}.
func constantObligationPaths(h *ast.Head) []string {
	ref := h.Ref()
	if len(ref) == 0 || !ref[0].Equal(ast.VarTerm("obligations")) {
		return nil
	}
	if len(ref) >= 2 {
		if s, ok := ref[1].Value.(ast.String); ok {
			return []string{string(s)}
		}
		return nil
	}
	if h.Value == nil {
		return nil
	}
	obj, ok := h.Value.Value.(ast.Object)
	if !ok {
		return nil
	}
	var paths []string
	for _, k := range obj.Keys() {
		if s, ok := k.Value.(ast.String); ok {
			paths = append(paths, string(s))
		}
	}
	return paths
}
