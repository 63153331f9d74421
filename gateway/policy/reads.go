package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// keying is what a compiled policy's cache keys must hold beyond what the
// contracts in docs/policy.md let it leave out.
type keying struct {
	// fullDivisions: a layer may read input.facts beyond the division
	// contract, so divisions are keyed by their full codes.
	fullDivisions bool
	// rawQuota: a layer may read input.quota_used beyond the quota
	// contract, so quota counts are keyed as they are, not as reached or
	// not.
	rawQuota bool
}

// The cache keys a division by its province when it lies within the
// agreements' parties (appendDivisionKey), and a quota as reached or not
// (appendQuotaReached), which is sound only for policies that keep the
// contracts in docs/policy.md. A policy that reads the facts or the counts
// beyond them (a county-level deny, a lower cap) has its decisions keyed
// on the full division codes or counts instead: that costs it cache hits
// across counties or counts, and nothing for one that does not read them.

// keyingFor says how to key the decisions of a bundle and province policy.
// The shipped bundle keeps both contracts; a province policy is not taken
// to, nor is any other bundle (a registry version may add a county rule or
// a lower cap): a layer not trusted that may read the facts or the counts
// has them keyed in full. This costs a registry bundle that reads them,
// which most do, the sharing of decisions across counties and quota counts;
// a bundle regains it by shipping in the binary.
func keyingFor(bundle Layer, bm, pm map[string]*ast.Module) keying {
	// A province module that reads the bundle's rules, or the engine's
	// that read them, may read the facts and counts through them: a
	// reason's or a problem's message names divisions, and `with` can make
	// a rule answer on any facts.
	viaBundle := anyReadsBundle(pm)
	k := keying{
		fullDivisions: viaBundle || anyReadsInput(pm, "facts"),
		rawQuota:      viaBundle || anyReadsInput(pm, "quota_used"),
	}
	if bundle.Revision() != shippedRevision() {
		k.fullDivisions = k.fullDivisions || anyReadsInput(bm, "facts")
		k.rawQuota = k.rawQuota || anyReadsInput(bm, "quota_used")
	}
	return k
}

// shippedRevision is the revision of the bundle shipped in the binary.
var shippedRevision = sync.OnceValue(func() string { return FederationBundle().Revision() })

// readsInput reports whether a module may read input[key]: a reference to
// input[key], to input by a key that is not a constant, or to input as a
// whole anywhere else (x := input, object.get(input, ...), json.marshal(input),
// [x | x := input.quota_used][0]), in rules and imports alike. When in doubt
// it answers yes: a wrong yes costs cache hits, a wrong no serves a wrong
// decision.
func readsInput(m *ast.Module, key string) bool {
	return mayRead(m, ast.InputRootDocument.Value, func(r ast.Ref) bool {
		return r.HasPrefix(ast.InputRootRef) && inputRefReaches(r, key)
	})
}

// mayRead reports whether module m may read what reaches says a reference
// reaches, or the document root (input, data) as a whole: root outside
// the head of a reference. The heads of references that are not
// variables (calls, collections, comprehensions) are searched too.
func mayRead(m *ast.Module, root ast.Value, reaches func(ast.Ref) bool) bool {
	found := false
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		if found {
			return true
		}
		switch x := x.(type) {
		case ast.Ref:
			if found = reaches(x); found {
				return true
			}
			if _, ok := x[0].Value.(ast.Var); !ok {
				vis.Walk(x[0])
			}
			for _, t := range x[1:] {
				vis.Walk(t)
			}
			return true
		case ast.Var:
			found = x.Equal(root)
		}
		return found
	})
	vis.Walk(m)
	return found
}

// inputRefReaches reports whether a reference into input may reach
// input[key].
func inputRefReaches(r ast.Ref, key string) bool {
	if len(r) < 2 {
		return true
	}
	s, ok := r[1].Value.(ast.String)
	return !ok || string(s) == key
}

// anyReadsInput reports whether any of the modules may read input[key].
func anyReadsInput(mods map[string]*ast.Module, key string) bool {
	for _, m := range mods {
		if readsInput(m, key) {
			return true
		}
	}
	return false
}

// provinceRoot is data.laborlink.province, the province layer's own rules.
var provinceRoot = ast.MustParseRef("data." + ProvincePackage)

// anyReadsBundle reports whether any of the modules may read the bundle's
// rules: a reference to anything under data but the province's own rules
// (data.laborlink.province and below), an import included. Not only
// data.laborlink.federation: the engine's module (data.laborlink.engine)
// reads the bundle's decision and answers as it does, under with too. A
// reference to data by a key that is not a constant, or to data as a
// whole, reads them as well. When in doubt it answers yes, as readsInput
// does.
func anyReadsBundle(mods map[string]*ast.Module) bool {
	for _, m := range mods {
		if mayRead(m, ast.DefaultRootDocument.Value, readsData) {
			return true
		}
	}
	return false
}

// readsData reports whether r may reach outside the province's own rules.
func readsData(r ast.Ref) bool {
	if !r.HasPrefix(ast.DefaultRootRef) {
		return false
	}
	for i, p := range provinceRoot[1:] {
		if i+1 >= len(r) {
			return true // data, data.laborlink: the bundle within
		}
		s, ok := r[i+1].Value.(ast.String)
		if !ok || p.Value.Compare(s) != 0 {
			return true // data[x], or another package
		}
	}
	return false
}
