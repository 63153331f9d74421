package node

import (
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/pki"
)

// The audit log fixes its own closed vocabulary so that auditors' tools need
// nothing else; the node is where it meets contracts and pki, so this test
// keeps the three in step.
func TestAuditVocabularyMatchesContracts(t *testing.T) {
	var provinces []string
	for _, p := range audit.Provinces() {
		provinces = append(provinces, string(p))
	}
	if !slices.Equal(provinces, contracts.Provinces()) || !slices.Equal(provinces, pki.Provinces()) {
		t.Errorf("provinces differ:\naudit     %v\ncontracts %v\npki       %v", provinces, contracts.Provinces(), pki.Provinces())
	}
	// Agreement changes are audited too, though agreements never travel in envelopes.
	types := []string{string(contracts.RecordAgreement)}
	for _, rt := range contracts.RecordTypes() {
		types = append(types, string(rt))
	}
	if got := audit.RecordTypes(); !sameSet(got, types) {
		t.Errorf("record types differ: audit %v, contracts %v", got, types)
	}
	var purposes []string
	for _, rt := range contracts.RecordTypes() {
		for _, p := range contracts.Purposes(rt) {
			if !slices.Contains(purposes, string(p)) {
				purposes = append(purposes, string(p))
			}
		}
	}
	if got := audit.Purposes(); !sameSet(got, purposes) {
		t.Errorf("purposes differ: audit %v, contracts %v", got, purposes)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
