package exchange

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
)

// faultyForStatistics is a province policy whose evaluation fails for
// records crossing for statistics only: two values for one complete rule.
const faultyForStatistics = `package laborlink.province

level := 1 if input.purpose == "statistics"

level := 2 if input.purpose == "statistics"

deny contains "never" if level == 3
`

// TestPolicyFaultHoldsUpItsRecordOnly: an export decision that fails for
// one record of a submission (a province policy that cannot be evaluated
// for it) answers that record unavailable and lets the others cross; the
// submission does not fail whole, with the denials of its other records
// stored and audited but never answered.
func TestPolicyFaultHoldsUpItsRecordOnly(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	n := f.nodes["51"]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "faulty.rego"), []byte(faultyForStatistics), 0o600); err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(context.Background(), policy.FederationBundle(), policy.Config{ProvinceDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	n.x.d.Policy = engine
	g := f.generator("51", "44", 83)
	faulty, good, denied := g.Transfer(), g.Transfer(), g.Transfer()
	faulty.Purpose = contracts.PurposeStatistics
	good.Purpose = contracts.PurposeEmploymentService
	denied.Purpose, denied.AgreementID = contracts.PurposeEmploymentService, "AG-51-44-NONE"
	res, err := n.x.Submit(context.Background(), n.system, encode(t, denied, faulty, good))
	if err != nil {
		t.Fatalf("submission failed whole: %v", err)
	}
	if r := res[0]; r.Outcome != OutcomeDenied || len(r.Reasons) == 0 {
		t.Errorf("record under no agreement = %+v, want denied with reasons", r)
	}
	if r := res[1]; r.Outcome != OutcomeUnavailable || r.Error == "" || r.EnvelopeID != "" {
		t.Errorf("record its decision failed on = %+v, want unavailable, saying so", r)
	}
	if r := res[2]; r.Outcome != OutcomeAccepted {
		t.Errorf("good record = %+v, want accepted", r)
	}
	if _, err := n.store.Lookup(res[1].Ref); err == nil {
		t.Error("the record its decision failed on was queued")
	}
}
