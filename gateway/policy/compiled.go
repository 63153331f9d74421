package policy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// engineModule joins the two layers into one query, so a decision is one
// evaluation. Defaults keep the query defined when a layer is silent: a bundle
// without a decision denies, a province without rules adds nothing. It belongs
// to neither layer and counts in neither revision.
const engineModule = `package laborlink.engine

default federation := {
	"allow": false,
	"reasons": [{"code": "bundle_undefined", "message": "the federation bundle gives no decision for this record"}],
	"obligations": {},
	"agreement": null,
}

federation := data.laborlink.federation.decision

default province_deny := set()

province_deny := data.laborlink.province.deny

default province_obligations := {}

province_obligations := data.laborlink.province.obligations

result := {
	"federation": federation,
	"province_deny": province_deny,
	"province_obligations": province_obligations,
}
`

const engineQuery = "data.laborlink.engine.result"

// compiled is one pair of layers, prepared for evaluation, with the cache of
// the decisions made with it. It is immutable once built; the engine swaps
// whole values.
type compiled struct {
	bundle, province Layer
	revisions        Revisions
	query            rego.PreparedEvalQuery
	cache            *decisionCache
	// keying says what the cache keys hold beyond the contracts (reads.go).
	keying keying
	// unread are the province's rules no decision reads
	// (UnreadProvinceRules), for the engine to warn of.
	unread []string
}

// compile parses and compiles both layers (tests left out) and prepares the
// decision query. The error is the parser's or compiler's, naming file and
// line.
func compile(ctx context.Context, bundle, province Layer, cacheSize int) (*compiled, error) {
	bm, err := bundle.parse(FederationPackage, false)
	if err != nil {
		return nil, fmt.Errorf("federation bundle: %w", err)
	}
	pm, err := province.parse(ProvincePackage, false)
	if err != nil {
		return nil, fmt.Errorf("province policy: %w", err)
	}
	if err := checkBuiltins(bm); err != nil {
		return nil, fmt.Errorf("federation bundle: %w", err)
	}
	if err := checkBuiltins(pm); err != nil {
		return nil, fmt.Errorf("province policy: %w", err)
	}
	if err := checkProvinceObligations(pm); err != nil {
		return nil, fmt.Errorf("province policy: %w", err)
	}
	em, err := ast.ParseModuleWithOpts("laborlink-engine.rego", engineModule, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("engine module: %w", err)
	}
	mods := make(map[string]*ast.Module, len(bm)+len(pm)+1)
	for name, m := range bm {
		mods["federation/"+name] = m
	}
	for name, m := range pm {
		mods["province/"+name] = m
	}
	mods["engine"] = em
	// Strict builtin errors: by default a builtin that fails (a date that
	// does not parse, say) leaves its rule undefined, and an undefined deny
	// or problem rule lets the record through. As an evaluation error it is
	// a denial (Engine.Decide).
	// Capabilities without the builtins checkBuiltins refuses (builtins.go).
	opts := []func(*rego.Rego){rego.Query(engineQuery), rego.StrictBuiltinErrors(true), rego.Capabilities(policyCapabilities())}
	for _, name := range sortedKeys(mods) {
		opts = append(opts, rego.ParsedModule(mods[name]))
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policy: %w", err)
	}
	return &compiled{
		bundle:   bundle,
		province: province,
		revisions: Revisions{
			Bundle:        bundle.Revision(),
			BundleVersion: bundle.Version,
			Province:      province.Revision(),
		},
		query:  q,
		cache:  newDecisionCache(cacheSize),
		keying: keyingFor(bundle, bm, pm),
		unread: unreadProvinceRules(pm),
	}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
