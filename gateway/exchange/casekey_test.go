package exchange

import (
	"context"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestReferralsOfBothSidesWithOneIDAreTwoCases: a referral's id is unique
// only within the province that sent it, so 51's referral R to 44 and
// 44's own referral R to 51 are two cases at both ends, and an update
// moves only the case its opened_by names. (From a reviewer's finding:
// with cases keyed by the province pair, 44's referral was taken for a
// redelivery of 51's and never tracked.)
func TestReferralsOfBothSidesWithOneIDAreTwoCases(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 23)
	theirs := f.referCases(g, 1)[0]
	origin, dest := f.nodes["51"], f.nodes["44"]
	gatewaytest.Eventually(t, "51's referral at 44", func() bool {
		_, err := dest.store.Case(store.CaseKey("51", theirs.ID), f.now)
		return err == nil
	})
	ours := referralFrom(g, "44")
	ours.ID, ours.Status = theirs.ID, contracts.CaseReferred
	res := f.submit("44", ours)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's own referral: %+v", res[0])
	}
	ourEnvelope := res[0].EnvelopeID
	gatewaytest.Eventually(t, "44's referral at 51", func() bool {
		_, err := origin.store.Case(store.CaseKey("44", ours.ID), f.now)
		return err == nil
	})
	for _, n := range []*node{origin, dest} {
		cs, err := n.x.Cases(context.Background(), n.system, "", false)
		if err != nil || len(cs) != 2 {
			t.Fatalf("cases at %s: %d (%+v), %v; want 2: 51's referral and 44's", n.x.d.Province, len(cs), cs, err)
		}
	}

	// An update of 51's case, sent 51 -> 44 (either side may send one),
	// names 51 as the opener: it moves 51's case at both ends, not 44's.
	u := g.ReferralUpdate(theirs)
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	if u.OpenedBy != "51" {
		t.Fatalf("synth update of 51's referral opened by %q", u.OpenedBy)
	}
	if res := f.submit("51", u); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("update of 51's case: %+v", res[0])
	}
	gatewaytest.Eventually(t, "51's case accepted at 44", func() bool {
		c, err := dest.store.Case(store.CaseKey("51", theirs.ID), f.now)
		return err == nil && c.Status == string(contracts.CaseAccepted)
	})
	for _, n := range []*node{origin, dest} {
		c, err := n.store.Case(store.CaseKey("44", ours.ID), f.now)
		if err != nil || c.Status != string(contracts.CaseReferred) || len(c.Updates) != 0 || c.OpenedBy != "44" {
			t.Errorf("44's case at %s: %+v, %v; want it referred, untouched", n.x.d.Province, c, err)
		}
	}
	// Nor is the update shown as an answer on 44's own referral of that id.
	v, err := dest.x.Record(context.Background(), dest.system, ourEnvelope)
	if err != nil || len(v.Answers) != 0 {
		t.Errorf("44's referral: answers %+v, %v; want none (the update moved 51's case)", v.Answers, err)
	}
}

// TestReceiveRejectsAnUpdateNamingNoOpener: an update whose opened_by is
// neither of its provinces (an agreement that drops it, or an older node)
// names no case; it is rejected, not deferred for a case that never comes.
func TestReceiveRejectsAnUpdateNamingNoOpener(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 23)
	r := f.referCases(g, 1)[0]
	gatewaytest.Eventually(t, "the referral at 44", func() bool {
		_, err := f.nodes["44"].store.Case(store.CaseKey("51", r.ID), f.now)
		return err == nil
	})
	for _, openedBy := range []string{"", "32"} {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status, u.OpenedBy = "51", "44", contracts.CaseAccepted, openedBy
		res, err := f.deliver("51", "44", f.rawSignedBy("51", u))
		if err != nil || res[0].Status != peer.StatusRejected || res[0].Reasons[0] != ReasonInvalidRecord {
			t.Errorf("opened_by %q: %+v, %v; want rejected %s", openedBy, res, err, ReasonInvalidRecord)
		}
	}
}

// TestUpdateProblemsRefusesACaseBetweenOtherProvinces: a case is keyed by
// its opener only, so an update naming that opener from a province the
// case does not run to is refused, not applied.
func TestUpdateProblemsRefusesACaseBetweenOtherProvinces(t *testing.T) {
	c := &store.Case{Key: store.CaseKey("51", "RF-1"), ReferralID: "RF-1", OpenedBy: "51", OpenedTo: "32", Status: "referred"}
	for _, tc := range []struct {
		name     string
		from, to string
		path     string
	}{
		{"from the opener to its peer", "51", "32", ""},
		{"from its peer to the opener", "32", "51", ""},
		{"from the opener to a third province", "51", "44", "referral_id"},
		{"from a third province to the opener", "44", "51", "referral_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &contracts.ReferralUpdate{Header: contracts.Header{From: tc.from, To: tc.to}, ReferralID: "RF-1", OpenedBy: "51", Status: contracts.CaseAccepted}
			p := updateProblems(u, c)
			switch {
			case tc.path == "" && p != nil:
				t.Errorf("refused: %+v", p)
			case tc.path != "" && (len(p) != 1 || p[0].Path != tc.path || !strings.Contains(p[0].Message, "went to 32")):
				t.Errorf("problems %+v; want one at %s saying where the case went", p, tc.path)
			}
		})
	}
}
