package exchange

import (
	"context"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestACaseWhoseReferralTheDestinationsNodeRejectedIsRejected: 44's node
// rejects 51's referral R as it arrives (its view of the agreement does
// not cover referrals), and delivers 51's next referral S once it takes
// referrals again. R is final, so at 51 its case is rejected, durably, in
// the commit that records 44's answer: the case's last update is 44's
// rejection under R's envelope, the audit log holds the denied receipt,
// and the referrals list leaves R out of referred, where provincial
// systems poll for open cases, and lists it under rejected, while S stays
// referred. (From a known gap: R's case stayed referred, and only its
// referral field said rejected.)
func TestACaseWhoseReferralTheDestinationsNodeRejectedIsRejected(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) { testReferralRejectedAtItsDestination(t, mode) })
	}
}

func testReferralRejectedAtItsDestination(t *testing.T, mode auditMode) {
	f := newFederationWith(t, mode, 0, "51", "44")
	a := f.agreement("51", "44")
	g := f.generator("51", "44", 83)
	origin := f.nodes["51"]
	r := referralFrom(g, "51")
	rejected := f.rejectedByDestsNode(a, r)
	s := referralFrom(g, "51")
	res := f.submit("51", s)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("51's referral S: %+v", res[0])
	}
	delivered := res[0].EnvelopeID
	gatewaytest.Eventually(t, "S delivered to 44", func() bool {
		st, err := origin.store.Status(delivered)
		return err == nil && st.State == store.StateDelivered
	})

	c, err := origin.store.Case(store.CaseKey("51", "44", r.ID), f.now)
	if err != nil {
		t.Fatalf("R's case at 51: %v", err)
	}
	st, err := origin.store.Status(rejected)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != string(contracts.CaseRejected) || c.Overdue || !c.UpdatedAt.Equal(st.DeliveredAt) {
		t.Errorf("R's case at 51: status %s, overdue %v, updated %v; want rejected, not overdue, updated as 44's answer was recorded (%v)", c.Status, c.Overdue, c.UpdatedAt, st.DeliveredAt)
	}
	want := store.CaseUpdate{EnvelopeID: rejected, From: "44", Status: string(contracts.CaseRejected), At: st.DeliveredAt}
	if len(c.Updates) != 1 || c.Updates[0].EnvelopeID != want.EnvelopeID || c.Updates[0].From != want.From || c.Updates[0].Status != want.Status || !c.Updates[0].At.Equal(want.At) {
		t.Errorf("R's case's updates at 51: %+v, want 44's rejection alone, %+v", c.Updates, want)
	}
	gatewaytest.Eventually(t, "the denied receipt of R in 51's audit log", func() bool {
		for _, e := range origin.auditEntries(t) {
			if e.Kind == audit.KindReceipt && e.EnvelopeID == rejected && e.Decision == audit.Deny {
				return true
			}
		}
		return false
	})

	list := func(status string) []store.Case {
		t.Helper()
		cs, err := origin.x.Cases(context.Background(), origin.system, status, false)
		if err != nil {
			t.Fatalf("cases %q at 51: %v", status, err)
		}
		return cs
	}
	if cs := list(string(contracts.CaseReferred)); len(cs) != 1 || cs[0].ReferralID != s.ID || cs[0].Referral != store.StateDelivered {
		t.Errorf("referred cases at 51: %+v; want S alone, its referral delivered", cs)
	}
	if cs := list(string(contracts.CaseRejected)); len(cs) != 1 || cs[0].ReferralID != r.ID || cs[0].Referral != store.StateRejected {
		t.Errorf("rejected cases at 51: %+v; want R alone, its referral rejected", cs)
	}
	if cs := list(""); len(cs) != 2 {
		t.Errorf("cases at 51: %+v; want R's and S's", cs)
	}
}
