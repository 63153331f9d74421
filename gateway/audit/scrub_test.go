package audit

import (
	"slices"
	"testing"
)

func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mut     func(*Entry)
		cleared []string
	}{
		{"valid", func(*Entry) {}, nil},
		{"agreement id with slashes", func(e *Entry) { e.AgreementID = "AG/51-44/2026" }, []string{"agreement_id"}},
		{"envelope id and a number", func(e *Entry) { e.EnvelopeID, e.RefersTo = "x y", "13800138000" }, []string{"envelope_id", "refers_to"}},
		{"peer", func(e *Entry) { e.Peer = "spiffe://p51.example/admin/li" }, []string{"peer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Entry{Kind: KindDenied, EnvelopeID: "01J0000000000000000000000A", AgreementID: "AG-51-44-2026-001",
				Origin: "51", Destination: "44", Decision: Deny, Reasons: []Reason{ReasonContractInvalid},
				Peer: "spiffe://p51.laborlink.example/node/gw-1"}
			tc.mut(&e)
			if got := e.Scrub(); !slices.Equal(got, tc.cleared) {
				t.Fatalf("Scrub cleared %v, want %v", got, tc.cleared)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("scrubbed entry invalid: %v", err)
			}
			if e.Kind != KindDenied || e.Origin != "51" || e.Reasons[0] != ReasonContractInvalid {
				t.Fatalf("Scrub changed more than identifiers: %+v", e)
			}
		})
	}
}
