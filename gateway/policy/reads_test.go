package policy

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/open-policy-agent/opa/v1/ast"
)

// A province's own, lower cap on an agreement's quota reads the count
// beyond "reached or not": the decision at 10 used must not be served at
// 600 used.
func TestProvinceQuotaCapKeysCounts(t *testing.T) {
	dir := writeProvince(t, map[string]string{"cap.rego": `package laborlink.province

deny contains "Sichuan caps transfers at 500 a month" if {
	input.side == "export"
	some id, _ in input.quota_used
	input.quota_used[id].transfer.month >= 500
}
`})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	ag := agreement51to44()
	for _, used := range []int{10, 600, 10} {
		req := Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{ag},
			QuotaUsed: map[QuotaKey]int{{ag.ID, contracts.QuotaMonth}: used}, Time: march15}
		d := decideBoth(t, cached, uncached, req, fmt.Sprintf("used %d", used))
		if d.Allow != (used < 500) {
			t.Errorf("used %d: allow = %v", used, d.Allow)
		}
	}
}

// registryBundle is the shipped bundle with one more file, as a registry
// version.
func registryBundle(name, src string) Layer {
	files := maps.Clone(FederationBundle().Files)
	files[name] = src
	return Layer{Files: files, Version: 7}
}

// A registry bundle version is not taken to keep the contracts: its county
// rule and its lower cap must not be served across counties or counts.
func TestRegistryBundleKeyedOnWhatItReads(t *testing.T) {
	ag := agreement51to44()
	tests := []struct {
		name, src string
		reqs      []Request
		allow     []bool
	}{
		{
			name: "county rule",
			src: `package laborlink.federation

problems contains problem(i, a, "county_embargo", "does not carry Yingshan county") if {
	some i, a in input.agreements
	input.facts.worker_division == "511321"
}
`,
			reqs: []Request{
				{Side: Export, Record: withDivisions(t, transfer51to44(), "511302", "440305"), Agreements: []contracts.Agreement{ag}, Time: march15},
				{Side: Export, Record: withDivisions(t, transfer51to44(), "511321", "440305"), Agreements: []contracts.Agreement{ag}, Time: march15},
			},
			allow: []bool{true, false},
		},
		{
			name: "lower cap",
			src: `package laborlink.federation

problems contains problem(i, a, "quota_reached", "capped at 500") if {
	some i, a in input.agreements
	[u | u := input.quota_used][0][a.id].transfer.month >= 500
}
`,
			reqs: []Request{
				{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{ag}, QuotaUsed: map[QuotaKey]int{{ag.ID, contracts.QuotaMonth}: 10}, Time: march15},
				{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{ag}, QuotaUsed: map[QuotaKey]int{{ag.ID, contracts.QuotaMonth}: 600}, Time: march15},
			},
			allow: []bool{true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cached, uncached := newEngine(t, "", DefaultCacheSize), newEngine(t, "", -1)
			for _, e := range []*Engine{cached, uncached} {
				if err := e.SetBundle(context.Background(), registryBundle("extra.rego", tt.src)); err != nil {
					t.Fatal(err)
				}
			}
			for i, req := range tt.reqs {
				d := decideBoth(t, cached, uncached, req, fmt.Sprintf("request %d", i))
				if d.Allow != tt.allow[i] {
					t.Errorf("request %d: allow = %v (%v)", i, d.Allow, d.Codes())
				}
			}
		})
	}
}

// The shipped bundle, pushed again as a registry version, keeps the
// sharing of decisions across counties.
func TestShippedBundleKeepsSharing(t *testing.T) {
	e := newEngine(t, "", DefaultCacheSize)
	b := FederationBundle()
	b.Version = 3
	if err := e.SetBundle(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if k := e.cur.Load().keying; k != (keying{}) {
		t.Errorf("shipped bundle as v3: keying = %+v, want none", k)
	}
	if err := e.SetBundle(context.Background(), registryBundle("x.rego", "package laborlink.federation\n\nx := input.facts\n")); err != nil {
		t.Fatal(err)
	}
	if k := e.cur.Load().keying; !k.fullDivisions || !k.rawQuota {
		t.Errorf("modified bundle: keying = %+v, want both", k)
	}
}

func TestReadsInput(t *testing.T) {
	checkReads(t, "quota_used", map[string]bool{
		`deny contains "x" if input.quota_used.a.transfer.month > 1`:                 true,
		`deny contains "x" if input["quota_used"].a.transfer.month > 1`:              true,
		`deny contains "x" if { some k; input[k].a.transfer.month > 1 }`:             true,
		`deny contains "x" if { doc := input; doc.quota_used.a.transfer.month > 1 }`: true,
		`deny contains "x" if object.get(input, "quota_used", {}).a == 1`:            true,
		`deny contains "x" if [u | u := input.quota_used][0].a == 1`:                 true,
		`deny contains "x" if json.unmarshal(json.marshal(input)).quota_used.a == 1`: true,
		`deny contains "x" if [input][0].quota_used.a == 1`:                          true,
		`deny contains "x" if {"i": input}.i.quota_used.a == 1`:                      true,
		`deny contains "x" if count({k | some k, _ in input}) > 1`:                   true,
		`deny contains "x" if input.facts.worker_division == "1"`:                    false,
		`deny contains "x" if object.get({"a": 1}, "a", 0) == 1`:                     false,
		`deny contains "x" if [p | p := input.peer][0] == "spiffe://p99."`:           false,
	}, "import input.quota_used as q\n\ndeny contains \"x\" if q.a == 1")
}

// checkReads checks readsInput(m, key) on a module of each rule in tests,
// and that a module reading input[key] through an import (importSrc) reads it.
func checkReads(t *testing.T, key string, tests map[string]bool, importSrc string) {
	t.Helper()
	parse := func(src string) *ast.Module {
		m, err := ast.ParseModuleWithOpts("p.rego", "package laborlink.province\n\n"+src+"\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for src, want := range tests {
		if got := readsInput(parse(src), key); got != want {
			t.Errorf("%s: readsInput(%q) = %v, want %v", src, key, got, want)
		}
	}
	if !readsInput(parse(importSrc), key) {
		t.Errorf("%s: readsInput(%q) = false", importSrc, key)
	}
}

// TestProvinceReadingTheBundleKeysDivisionsInFull: a province rule can
// read the worker's county through the bundle's rules without naming
// input (a problem's message names the division, and with makes the rule
// answer), so the cache keyed divisions by province and served one
// county's decision to another. (From a review.) A province module that
// reads the bundle has divisions and counts keyed in full.
func TestProvinceReadingTheBundleKeysDivisionsInFull(t *testing.T) {
	dir := writeProvince(t, map[string]string{"county.rego": `package laborlink.province

deny contains "no Yingshan county" if {
	some p in data.laborlink.federation.problems with data.laborlink.federation.covers as false
	p.code == "division_not_covered"
	contains(p.message, "\"511321\"")
}
`})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	ag := agreement51to44()
	for _, w := range []string{"511302", "511321"} {
		req := Request{Side: Export, Record: withDivisions(t, transfer51to44(), w, "440305"), Agreements: []contracts.Agreement{ag}, Time: march15}
		if d := decideBoth(t, cached, uncached, req, "worker "+w); d.Allow != (w != "511321") {
			t.Errorf("worker %s: allow = %v", w, d.Allow)
		}
	}
}

func TestAnyReadsBundle(t *testing.T) {
	for src, want := range map[string]bool{
		`deny contains "x" if data.laborlink.federation.allow`:                          true,
		`deny contains "x" if { some p in data.laborlink.federation.problems; p.code }`: true,
		`deny contains "x" if data.laborlink["federation"].allow`:                       true,
		`deny contains "x" if { some k; data.laborlink[k].allow }`:                      true,
		`deny contains "x" if { some k; data[k] }`:                                      true,
		`deny contains "x" if object.get(data, "laborlink", {}) == {}`:                  true,
		`deny contains "x" if f with data.laborlink.federation.covers as false`:         true,
		`deny contains "x" if data.laborlink.engine.federation.allow`:                   true,
		`deny contains "x" if data.laborlink.province.limits.x == 1`:                    false,
		`deny contains "x" if input.side == "export"`:                                   false,
		"import data.laborlink.federation\n\ndeny contains \"x\" if federation.allow":   true,
	} {
		m, err := ast.ParseModuleWithOpts("p.rego", "package laborlink.province\n\nf := true\n\n"+src+"\n", ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		if got := anyReadsBundle(map[string]*ast.Module{"p.rego": m}); got != want {
			t.Errorf("%s: anyReadsBundle = %v, want %v", src, got, want)
		}
	}
}

// TestProvinceReadingTheEngineKeysDivisionsInFull: the engine's module
// (data.laborlink.engine) reads the bundle's decision, so a province rule
// reading it under with makes the bundle answer on other agreements (here
// one whose origin party is a single county) without naming the bundle
// or input.facts. Keyed by province, the cache served one county's
// decision to another. (From a review.)
func TestProvinceReadingTheEngineKeysDivisionsInFull(t *testing.T) {
	dir := writeProvince(t, map[string]string{"county.rego": `package laborlink.province

shunqing := [object.union(a, {"origin": {"division": "511302", "name": "顺庆区"}}) | some a in input.agreements]

deny contains "only Shunqing district" if {
	not data.laborlink.engine.federation.allow with input.agreements as shunqing
}
`})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	ag := agreement51to44()
	for _, w := range []string{"511302", "511321"} {
		req := Request{Side: Export, Record: withDivisions(t, transfer51to44(), w, "440305"), Agreements: []contracts.Agreement{ag}, Time: march15}
		if d := decideBoth(t, cached, uncached, req, "worker "+w); d.Allow != (w == "511302") {
			t.Errorf("worker %s: allow = %v (%v)", w, d.Allow, d.Codes())
		}
	}
}
