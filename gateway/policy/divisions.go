package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// The cache keys a division by its province when it lies within the
// agreements' parties (appendDivisionKey), which is sound only for policies
// that keep the division contract in docs/policy.md. The shipped bundle
// keeps it; a province policy is not trusted to: one that reads the facts
// at all (a county-level deny, say) has its policy's decisions keyed on
// the full division codes instead. That costs such a policy cache hits
// across counties, and nothing for one that does not read the facts.

// readsFacts reports whether a module may read input.facts: a reference to
// input.facts, to input as a whole (x := input, object.get(input, ...),
// [x | x := input.facts][0]) or to input by a key that is not a constant,
// anywhere in the module, imports included.
func readsFacts(m *ast.Module) bool {
	found := false
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		if found {
			return true
		}
		switch x := x.(type) {
		case ast.Ref:
			if x.HasPrefix(ast.InputRootRef) && factsRef(x) {
				found = true
				return true
			}
			if _, ok := x[0].Value.(ast.Var); !ok {
				// A head that is a call, a collection or a comprehension
				// (object.get(input, "facts", {}).x, [f | f := input.facts][0])
				// may hold input anywhere in it.
				vis.Walk(x[0])
			}
			for _, t := range x[1:] {
				vis.Walk(t)
			}
			return true // a variable head was looked at above
		case ast.Var:
			// input outside a reference: the whole document, facts included.
			found = x.Equal(ast.InputRootDocument.Value)
		}
		return found
	})
	vis.Walk(m)
	return found
}

// factsRef reports whether a reference into input may reach the facts.
func factsRef(r ast.Ref) bool {
	if len(r) < 2 {
		return true
	}
	s, ok := r[1].Value.(ast.String)
	return !ok || string(s) == "facts"
}

// anyReadsFacts reports whether any of the modules may read input.facts.
func anyReadsFacts(mods map[string]*ast.Module) bool {
	for _, m := range mods {
		if readsFacts(m) {
			return true
		}
	}
	return false
}
