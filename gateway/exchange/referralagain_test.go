package exchange

import (
	"context"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// submittedID is the envelope id under which province p's node queued
// rec.
func (f *federation) submittedID(p string, rec contracts.Record) string {
	f.t.Helper()
	id, err := f.nodes[p].store.Lookup(Ref(rec.Head(), rec.Type()))
	if err != nil {
		f.t.Fatalf("%s's %s %s: %v", p, rec.Type(), rec.Head().ID, err)
	}
	return id
}

// rejectedByDestsNode submits referral r at its origin's node while the
// view its destination's node has of their agreement a leaves referrals
// out, so that the destination's node rejects r as it arrives; once the
// origin's store holds r rejected, it puts a back as it was (the
// destination takes referrals again), and returns r's envelope id.
func (f *federation) rejectedByDestsNode(a *contracts.Agreement, r *contracts.Referral) string {
	f.t.Helper()
	origin, dest := f.nodes[r.From], f.nodes[r.To]
	narrow := *a
	narrow.Scope = slices.DeleteFunc(slices.Clone(a.Scope), func(s contracts.ScopeRule) bool { return s.RecordType == contracts.RecordReferral })
	dest.agreements.Put(narrow)
	res := f.submit(r.From, r)
	if res[0].Outcome != OutcomeAccepted {
		f.t.Fatalf("%s's referral %s: %+v", r.From, r.ID, res[0])
	}
	id := res[0].EnvelopeID
	gatewaytest.Eventually(f.t, r.From+"'s referral "+r.ID+" rejected by "+r.To+"'s node", func() bool {
		st, err := origin.store.Status(id)
		return err == nil && st.State == store.StateRejected
	})
	dest.agreements.Put(*a)
	return id
}

// wantCase checks the case of referral r at node n: there, and in status.
func wantCase(t *testing.T, f *federation, n *node, r *contracts.Referral, status contracts.CaseStatus) {
	t.Helper()
	gatewaytest.Eventually(t, "case "+r.ID+" "+string(status)+" at "+n.province, func() bool {
		c, err := n.store.Case(store.CaseKey(r.From, r.To, r.ID), f.now)
		return err == nil && c.Status == string(status)
	})
}

// TestARejectedReferralIsReferredAgainUnderANewID: 44 rejects 51's
// referral R (an update, rejected). R is final: submitted again, under
// its id, whatever it holds now, it is answered duplicate, naming the
// first envelope, and nothing is sent; 51 may not move its case any more.
// The case is referred again as a new referral under a new id, which
// opens a case of its own at both ends, as any other: the id of the
// rejected one is never reused, and its case stays, rejected.
func TestARejectedReferralIsReferredAgainUnderANewID(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 71)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r := f.referCases(g, 1)[0]
	first := f.submittedID("51", r)
	f.awaitCases("44", []*contracts.Referral{r})
	no := g.ReferralUpdate(r)
	no.From, no.To, no.Status, no.Note = "44", "51", contracts.CaseRejected, "the employer is not in this province"
	if res := f.submit("44", no); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's rejection: %+v", res[0])
	}
	wantCase(t, f, origin, r, contracts.CaseRejected)

	again := *r
	again.Notes = "referred again with the employer's new address"
	for i, res := range f.submit("51", r, &again) {
		if res.Outcome != OutcomeDuplicate || res.EnvelopeID != first {
			t.Errorf("R submitted again (%d): %+v, want %s of %s", i, res, OutcomeDuplicate, first)
		}
	}
	closing := g.ReferralUpdate(r)
	closing.From, closing.To, closing.Status = "51", "44", contracts.CaseClosed
	if res := f.submit("51", closing)[0]; res.Outcome != OutcomeInvalid || len(res.Problems) != 1 || res.Problems[0].Path != "status" {
		t.Errorf("51 closing its rejected case: %+v, want %s on status", res, OutcomeInvalid)
	}

	fresh := again
	fresh.ID = r.ID + "-2"
	res := f.submit("51", &fresh)
	if res[0].Outcome != OutcomeAccepted || res[0].EnvelopeID == first {
		t.Fatalf("the case referred again under a new id: %+v, want %s under a new envelope", res[0], OutcomeAccepted)
	}
	for _, n := range []*node{origin, dest} {
		wantCase(t, f, n, &fresh, contracts.CaseReferred)
		wantCase(t, f, n, r, contracts.CaseRejected)
	}
	yes := g.ReferralUpdate(&fresh)
	yes.From, yes.To, yes.Status = "44", "51", contracts.CaseAccepted
	if res := f.submit("44", yes); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's acceptance of the new referral: %+v", res[0])
	}
	wantCase(t, f, origin, &fresh, contracts.CaseAccepted)
	wantCase(t, f, origin, r, contracts.CaseRejected)
}

// TestAReferralItsDestinationRejectedKeepsItsID: 44's node rejects 51's
// referral R as it arrives (44's view of the agreement does not cover
// referrals): R is final at 51, which sees it rejected and keeps its case
// under R, rejected. Submitted again once 44 takes referrals, R is answered
// duplicate and not sent; under a new id the case reaches 44. R stays 51's
// for good: 44's own referral under it, accepted at 44, which never held
// R, is rejected at 51 (referral_id_taken).
func TestAReferralItsDestinationRejectedKeepsItsID(t *testing.T) {
	f := newFederation(t, "51", "44")
	a := f.agreement("51", "44")
	g := f.generator("51", "44", 73)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r := referralFrom(g, "51")
	first := f.rejectedByDestsNode(a, r) // 44 takes referrals again after
	if v, err := origin.x.Record(context.Background(), origin.system, first); err != nil || v.State != store.StateRejected {
		t.Fatalf("51's referral, rejected by 44: %+v (%v), want %s", v, err, store.StateRejected)
	}
	if _, err := dest.store.Case(store.CaseKey("51", "44", r.ID), f.now); err == nil {
		t.Fatalf("44 opened a case for the referral it rejected")
	}

	if res := f.submit("51", r); res[0].Outcome != OutcomeDuplicate || res[0].EnvelopeID != first {
		t.Errorf("R submitted again: %+v, want %s of %s", res[0], OutcomeDuplicate, first)
	}
	fresh := *r
	fresh.ID = r.ID + "-2"
	if res := f.submit("51", &fresh); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("the case referred again under a new id: %+v", res[0])
	}
	wantCase(t, f, dest, &fresh, contracts.CaseReferred)
	if _, err := dest.store.Case(store.CaseKey("51", "44", r.ID), f.now); err == nil {
		t.Errorf("44 holds a case under R, which it rejected")
	}

	theirs := referralFrom(g, "44")
	theirs.ID = r.ID
	res := f.submit("44", theirs)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's referral under R, which 44 never held: %+v", res[0])
	}
	gatewaytest.Eventually(t, "44's referral under R rejected by 51", func() bool {
		v, err := dest.x.Record(context.Background(), dest.system, res[0].EnvelopeID)
		return err == nil && v.State == store.StateRejected && slices.Equal(v.Reasons, []string{ReasonReferralIDTaken})
	})
	c, err := origin.store.Case(store.CaseKey("51", "44", r.ID), f.now)
	if err != nil || c.OpenedBy != "51" || c.EnvelopeID != first || c.Status != string(contracts.CaseRejected) || len(c.Updates) != 1 {
		t.Errorf("the case under R at 51: %+v, %v; want 51's own, as it was: rejected by 44's node", c, err)
	}
}

// TestARefusedReferralLeavesItsIDFree: a referral the origin refuses,
// invalid or denied by its policy, was never queued and opened no case:
// its id is free, and the corrected referral is accepted under it.
func TestARefusedReferralLeavesItsIDFree(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 79)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r := referralFrom(g, "51")
	key := store.CaseKey("51", "44", r.ID)
	answered := *r
	answered.Status = contracts.CaseAccepted
	unknown := *r
	unknown.AgreementID += "X" // no such agreement
	for _, refused := range []struct {
		rec     *contracts.Referral
		outcome Outcome
	}{{&answered, OutcomeInvalid}, {&unknown, OutcomeDenied}} {
		if res := f.submit("51", refused.rec); res[0].Outcome != refused.outcome {
			t.Fatalf("R refused: %+v, want %s", res[0], refused.outcome)
		}
		if _, err := origin.store.Case(key, f.now); err == nil {
			t.Fatalf("a case opened for R, %s", refused.outcome)
		}
	}
	res := f.submit("51", r)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("R corrected: %+v, want %s", res[0], OutcomeAccepted)
	}
	for _, n := range []*node{origin, dest} {
		wantCase(t, f, n, r, contracts.CaseReferred)
	}
	if got := dest.inbox(t); len(got) != 1 || got[0].EnvelopeID != res[0].EnvelopeID {
		t.Errorf("44's inbox: %+v, want the corrected referral alone", got)
	}
}
