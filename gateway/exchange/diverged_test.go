package exchange

import (
	"context"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestACaseWhoseUpdateTheOtherProvinceRejectedIsDiverged: 44 accepts 51's
// referral R, and 51's node rejects the update as it arrives (its view of
// the agreement does not cover referral updates). 44's case moved to
// accepted when the update was queued, and is not moved back; 51's stays
// referred. 44's referrals list shows the update rejected and the case
// diverged, so that its operators see the two provinces disagree; 51's
// shows nothing of the kind, nor does a case whose updates arrived.
func TestACaseWhoseUpdateTheOtherProvinceRejectedIsDiverged(t *testing.T) {
	f := newFederation(t, "51", "44")
	a := f.agreement("51", "44")
	g := f.generator("51", "44", 89)
	origin, dest := f.nodes["51"], f.nodes["44"]
	rs := f.referCases(g, 2)
	f.awaitCases("44", rs)
	r, s := rs[0], rs[1]

	narrow := *a
	narrow.Scope = slices.DeleteFunc(slices.Clone(a.Scope), func(s contracts.ScopeRule) bool { return s.RecordType == contracts.RecordReferralUpdate })
	origin.agreements.Put(narrow)
	yes := g.ReferralUpdate(r)
	yes.From, yes.To, yes.Status = "44", "51", contracts.CaseAccepted
	res := f.submit("44", yes)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's acceptance of R: %+v", res[0])
	}
	refused := res[0].EnvelopeID
	gatewaytest.Eventually(t, "44's acceptance rejected by 51's node", func() bool {
		st, err := dest.store.Status(refused)
		return err == nil && st.State == store.StateRejected
	})
	origin.agreements.Put(*a)
	other := g.ReferralUpdate(s)
	other.From, other.To, other.Status = "44", "51", contracts.CaseAccepted
	res = f.submit("44", other)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's acceptance of S: %+v", res[0])
	}
	f.awaitDelivered("44", res[0].EnvelopeID)
	wantCase(t, f, origin, s, contracts.CaseAccepted)
	wantCase(t, f, origin, r, contracts.CaseReferred)

	list := func(n *node) map[string]store.Case {
		t.Helper()
		cs, err := n.x.Cases(context.Background(), n.system, "", false)
		if err != nil {
			t.Fatalf("cases at %s: %v", n.province, err)
		}
		out := map[string]store.Case{}
		for _, c := range cs {
			out[c.ReferralID] = c
		}
		return out
	}
	at44 := list(dest)
	if c := at44[r.ID]; c.Status != string(contracts.CaseAccepted) || !c.Diverged || len(c.Updates) != 1 || c.Updates[0].Delivery != store.StateRejected {
		t.Errorf("R's case at 44: %+v; want accepted, diverged, its update rejected", c)
	}
	if c := at44[s.ID]; c.Diverged || len(c.Updates) != 1 || c.Updates[0].Delivery != store.StateDelivered {
		t.Errorf("S's case at 44: %+v; want its update delivered, not diverged", c)
	}
	for id, c := range list(origin) {
		if c.Diverged || slices.ContainsFunc(c.Updates, func(u store.CaseUpdate) bool { return u.Delivery != "" }) {
			t.Errorf("case %s at 51, which sent no update: %+v; want neither diverged nor an update's delivery state", id, c)
		}
	}
}
