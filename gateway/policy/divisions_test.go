package policy

import (
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// A province rule on one county inside a province-level agreement breaks
// the division contract; its decisions must not be shared across counties.
func TestProvinceReadingFactsKeysFullDivisions(t *testing.T) {
	dir := writeProvince(t, map[string]string{"yingshan.rego": `package laborlink.province

deny contains "no exports from Yingshan county this month" if {
	input.side == "export"
	input.facts.worker_division == "511321"
}
`})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	for _, w := range []string{"511302", "511321", "510104", "511321"} {
		req := Request{Side: Export, Record: withDivisions(t, transfer51to44(), w, "440305"),
			Agreements: []contracts.Agreement{agreement51to44()}, Time: march15}
		d := decideBoth(t, cached, uncached, req, fmt.Sprintf("worker %s", w))
		if d.Allow == (w == "511321") {
			t.Errorf("worker %s: allow = %v", w, d.Allow)
		}
	}
}

func TestReadsFacts(t *testing.T) {
	checkReads(t, "facts", map[string]bool{
		`deny contains "x" if input.facts.worker_division == "511321"`:               true,
		`deny contains "x" if input["facts"].employer_division == "440305"`:          true,
		`deny contains "x" if { some k; input[k].worker_division == "511321" }`:      true,
		`deny contains "x" if { doc := input; doc.facts.worker_division == "1" }`:    true,
		`deny contains "x" if object.get(input, "facts", {}).worker_division == "1"`: true,
		`deny contains "x" if [f | f := input.facts][0].worker_division == "1"`:      true,
		`deny contains "x" if json.unmarshal(json.marshal(input)).facts.x == "1"`:    true,
		`deny contains "x" if [input][0].facts.worker_division == "1"`:               true,
		`deny contains "x" if {"i": input}.i.facts.worker_division == "1"`:           true,
		`deny contains "x" if input.purpose == "statistics"`:                         false,
		`deny contains "x" if object.get({"a": 1}, "a", 0) == 1`:                     false,
		`deny contains "x" if startswith(input.peer, "spiffe://p99.")`:               false,
	}, "import input.facts as f\n\ndeny contains \"x\" if f.worker_division == \"1\"")
}
