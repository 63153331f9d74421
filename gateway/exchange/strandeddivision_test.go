package exchange

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestARecordItsDestinationMustRefuseIsDeniedAtSubmission: under an
// agreement a registry held from before it checked scopes for their
// divisions (a prefecture origin party, a transfer rule without
// worker.household_division), 51 accepted a transfer, dropped the field,
// and 44, unable to tell that the worker is inside the prefecture,
// rejected it for good: a dead letter behind an "accepted". The submission
// is denied instead, division_not_crossing, naming the agreement and the
// field (the dry run says so too); nothing is queued, the denial is on
// record and audited as field-not-allowed, and once the agreement is amended to admit the field
// the same reference is accepted and delivered.
func TestARecordItsDestinationMustRefuseIsDeniedAtSubmission(t *testing.T) {
	f := newFederation(t, "51", "44")
	origin := f.nodes["51"]
	tr := f.generator("51", "44", 5).Transfer()
	prefecture := tr.Worker.HouseholdDivision[:4] + "00"
	withPrefecture := func(a *contracts.Agreement) { a.Origin.Division = prefecture }
	withoutHousehold := func(a *contracts.Agreement) {
		r := a.Rule(contracts.RecordTransfer)
		r.Fields = slices.DeleteFunc(slices.Clone(r.Fields), func(p string) bool { return p == "worker.household_division" })
	}
	a := f.agreement("51", "44", withPrefecture, withoutHousehold)
	tr.AgreementID = a.ID

	dry, err := origin.x.Evaluate(context.Background(), origin.system, encode(t, tr)[0])
	if err != nil || dry.Decision == nil || dry.Decision.Allow || dry.Record != nil {
		t.Fatalf("the dry run: %+v, %v; want the denial, and no record as it would cross", dry, err)
	}
	res := f.submit("51", tr)[0]
	if res.Outcome != OutcomeDenied || len(res.Reasons) != 1 || res.Reasons[0].Code != policy.ReasonDivisionNotCrossing {
		t.Fatalf("the transfer: %+v; want denied for %s", res, policy.ReasonDivisionNotCrossing)
	}
	for _, w := range []string{a.ID, prefecture, "worker.household_division", "refuse the record for good"} {
		if !strings.Contains(res.Reasons[0].Message, w) {
			t.Errorf("reason %q does not name %q", res.Reasons[0].Message, w)
		}
	}
	if st, err := origin.store.Status(res.EnvelopeID); err != nil || st.State != store.StateDenied || !slices.Equal(st.Reasons, []string{policy.ReasonDivisionNotCrossing}) {
		t.Errorf("the denial on record: %+v, %v", st, err)
	}
	if d := origin.store.Depth()["44"]; d != 0 {
		t.Errorf("%d envelopes queued for 44; want none", d)
	}
	e := find(origin.auditEntries(t), audit.KindDenied, res.EnvelopeID)
	if e == nil || e.Decision != audit.Deny || !slices.Equal(e.Reasons, []audit.Reason{audit.ReasonFieldNotAllowed}) {
		t.Errorf("audit entry of the denial: %+v; want denied, %s", e, audit.ReasonFieldNotAllowed)
	}

	amended := f.agreement("51", "44", withPrefecture, func(a *contracts.Agreement) { a.Version = 2 })
	if !slices.Contains(amended.Rule(contracts.RecordTransfer).Fields, "worker.household_division") {
		t.Fatal("the amendment leaves worker.household_division out")
	}
	res = f.submit("51", tr)[0]
	if res.Outcome != OutcomeAccepted {
		t.Fatalf("the transfer under the amended agreement: %+v; want accepted", res)
	}
	gatewaytest.Eventually(t, "the transfer in 44's inbox", func() bool {
		return slices.ContainsFunc(f.nodes["44"].inbox(t), func(in store.Incoming) bool { return in.EnvelopeID == res.EnvelopeID })
	})
	if dead := origin.store.DeadLetterCounts()["44"]; dead != 0 {
		t.Errorf("%d dead letters for 44", dead)
	}
	for _, n := range f.nodes {
		checkAuditClean(t, n)
	}
}
