package policy

import (
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// A province rule that reads the facts through a reference whose head is a
// call (object.get(input, "facts", {}).worker_division) or a comprehension
// has its decisions keyed by county: readsFacts missed such heads, and a
// county it denies was served another county's cached allow. (From a
// review.)
func TestFactsReadThroughACallAreKeyedByCounty(t *testing.T) {
	for name, body := range map[string]string{
		"object.get":    `object.get(input, "facts", {}).worker_division == "511321"`,
		"comprehension": `[f | f := input.facts][0].worker_division == "511321"`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeProvince(t, map[string]string{"yingshan.rego": `package laborlink.province

deny contains "no exports from Yingshan county" if {
	input.side == "export"
	` + body + `
}
`})
			cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
			for _, w := range []string{"511302", "511321"} {
				req := Request{Side: Export, Record: withDivisions(t, transfer51to44(), w, "440305"),
					Agreements: []contracts.Agreement{agreement51to44()}, Time: march15}
				decideBoth(t, cached, uncached, req, fmt.Sprintf("worker %s", w))
			}
		})
	}
}
