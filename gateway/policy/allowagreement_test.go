package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// An allow must name the agreement the record names, among those the
// request gave: the exchange counts quotas and seals envelopes under it,
// and a bundle pushed through the registry is code this node did not ship.
// One that names none made the exchange dereference nil. (From a review.)
func TestAnAllowNamesTheRecordsAgreement(t *testing.T) {
	for name, tc := range map[string]struct{ agreement, want string }{
		"none":            {`null`, "under no agreement"},
		"another":         {`{"id": "AG-OTHER", "version": 1}`, `under agreement "AG-OTHER"`},
		"another version": {`{"id": "AG-51-44-2026-001", "version": 99}`, "version 99, which is not one of"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, "", -1)
			bundle := Layer{Version: 9, Files: map[string]string{"d.rego": `package laborlink.federation

decision := {"allow": true, "reasons": [], "obligations": {}, "agreement": ` + tc.agreement + `}
`}}
			if err := e.SetBundle(context.Background(), bundle); err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(context.Background(), Request{Side: Export, Record: transfer51to44(),
				Agreements: []contracts.Agreement{agreement51to44()}, Time: march15})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decision %+v, %v; want an error saying %q", d, err, tc.want)
			}
		})
	}
}
