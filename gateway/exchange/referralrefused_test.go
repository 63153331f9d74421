package exchange

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// hookedAgreements runs hook on the first lookup: screen looks up
// agreements after it read the cases, so a hook there acts between the
// read and the commit, as a concurrent request would. Lookups the hook
// makes itself go straight through.
type hookedAgreements struct {
	policy.AgreementSource
	ran  atomic.Bool
	hook func()
}

func (h *hookedAgreements) Agreements(ctx context.Context, a, b, id string) ([]contracts.Agreement, error) {
	if !h.ran.Swap(true) {
		h.hook()
	}
	return h.AgreementSource.Agreements(ctx, a, b, id)
}

// wantUpdateRefusedForItsSender checks the answer to 51's update of a
// case it refers to 44 in the same submission: invalid, one problem on
// status saying that only 44 may send it. Only the province a case was
// referred to answers it, and a referred case cannot be closed, so such an
// update is refused before the commit, whatever becomes of its referral
// there.
func wantUpdateRefusedForItsSender(t *testing.T, r SubmitResult) {
	t.Helper()
	if r.Outcome != OutcomeInvalid || r.EnvelopeID != "" || len(r.Problems) != 1 || r.Problems[0].Path != "status" {
		t.Fatalf("the update: %+v, want %s with one problem on status", r, OutcomeInvalid)
	}
	if msg := r.Problems[0].Message; !strings.Contains(msg, "only province 44") || !strings.Contains(msg, "may only close it") {
		t.Errorf("the problem %q should say that only 44 may send the update and 51 may only close the case", msg)
	}
}

// TestUpdateOfAReferralRefusedInTheCommitSaysWhy: 51 submits a referral R
// and an update of it together; between screen and the commit, 44's own
// referral R reaches 51 and takes the id. The referral is refused
// (referral_id_taken), and the update too: invalid, for its sender, not
// unavailable, and 44's case is not moved by it. (From a known gap: the
// update was answered unavailable, or moved the case that held the id.)
func TestUpdateOfAReferralRefusedInTheCommitSaysWhy(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 43)
	origin := f.nodes["51"]
	ours := referralFrom(g, "51")
	ours.Status = contracts.CaseReferred
	theirs := referralFrom(g, "44")
	theirs.Status, theirs.ID = contracts.CaseReferred, ours.ID
	u := g.ReferralUpdate(ours)
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	raw := f.rawSignedBy("44", theirs)
	origin.x.d.Agreements = &hookedAgreements{AgreementSource: origin.agreements, hook: func() {
		if got, err := f.deliver("44", "51", raw); err != nil || got[0].Status != peer.StatusStored {
			t.Errorf("44's referral at 51: %+v, %v", got, err)
		}
	}}
	res := f.submit("51", ours, u)
	if r := res[0]; r.Outcome != OutcomeInvalid || len(r.Problems) != 1 || r.Problems[0].Path != "id" {
		t.Fatalf("51's referral: %+v, want %s on id (referral_id_taken)", r, OutcomeInvalid)
	}
	wantUpdateRefusedForItsSender(t, res[1])
	c, err := origin.store.Case(store.CaseKey("51", "44", ours.ID), f.now)
	if err != nil || c.OpenedBy != "44" || c.Status != string(contracts.CaseReferred) || len(c.Updates) != 0 {
		t.Errorf("the case at 51: %+v, %v; want 44's, referred and never moved", c, err)
	}
}

// TestUpdateOfAReferralOverQuotaSaysWhy: a referral denied in the commit
// for its quota (the decision read the count before an earlier referral of
// the submission took the last one) leaves its update, submitted with it,
// invalid, not unavailable, and no case stored.
func TestUpdateOfAReferralOverQuotaSaysWhy(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordReferral, Period: contracts.QuotaYear, Max: 1}}
	})
	g := f.generator("51", "44", 47)
	first, second := referralFrom(g, "51"), referralFrom(g, "51")
	first.Status, second.Status = contracts.CaseReferred, contracts.CaseReferred
	u := g.ReferralUpdate(second)
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	res := f.submit("51", first, second, u)
	if res[0].Outcome != OutcomeAccepted || res[1].Outcome != OutcomeDenied {
		t.Fatalf("the referrals: %+v, %+v; want the first accepted, the second denied", res[0], res[1])
	}
	wantUpdateRefusedForItsSender(t, res[2])
	if _, err := f.nodes["51"].store.Case(store.CaseKey("51", "44", second.ID), f.now); err == nil {
		t.Errorf("the denied referral's case is stored")
	}
}

// TestDeliveredUpdateOfAReferralRefusedInTheCommitIsRejected: 51 delivers
// a referral R and an update of it together; between their checks and the
// commit at 44, 44 submits its own referral R. 51's referral is rejected
// (referral_id_taken), and its update final too, rather than stored as a
// move of 44's case: checked against the case 51's referral opens, it is
// 51's answer to its own referral (invalid_case_transition).
func TestDeliveredUpdateOfAReferralRefusedInTheCommitIsRejected(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 53)
	dest := f.nodes["44"]
	f.dir.set("51", "https://127.0.0.1:1") // 44's own referral stays queued
	r51 := referralFrom(g, "51")
	r51.Status = contracts.CaseReferred
	r44 := referralFrom(g, "44")
	r44.Status, r44.ID = contracts.CaseReferred, r51.ID
	u51 := g.ReferralUpdate(r51)
	u51.From, u51.To, u51.Status = "51", "44", contracts.CaseAccepted
	dest.x.d.Agreements = &hookedAgreements{AgreementSource: dest.agreements, hook: func() {
		if res := f.submit("44", r44); res[0].Outcome != OutcomeAccepted {
			t.Errorf("44's own referral: %+v", res[0])
		}
	}}
	got, err := f.deliver("51", "44", f.rawSignedBy("51", r51), f.rawSignedBy("51", u51))
	if err != nil {
		t.Fatal(err)
	}
	for i, reason := range []string{ReasonReferralIDTaken, ReasonInvalidTransition} {
		if r := got[i]; r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{reason}) || r.Receipt != nil {
			t.Errorf("result %d: %s %v (receipt: %v), want %s [%s] and no receipt", i, r.Status, r.Reasons, r.Receipt != nil, peer.StatusRejected, reason)
		}
	}
	c, err := dest.store.Case(store.CaseKey("51", "44", r51.ID), f.now)
	if err != nil || c.OpenedBy != "44" || c.Status != string(contracts.CaseReferred) || len(c.Updates) != 0 {
		t.Errorf("the case at 44: %+v, %v; want 44's, referred and never moved", c, err)
	}
}

// TestUpdateOfAReferralDeniedInTheSameSubmissionSaysWhy: a referral the
// export decision denies never reaches the commit; the update of the case
// it would open is refused with it, for its sender, not answered
// unavailable for a case the commit could not find, and nothing is queued.
func TestUpdateOfAReferralDeniedInTheSameSubmissionSaysWhy(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 67)
	r := referralFrom(g, "51")
	u := g.ReferralUpdate(r)
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	r.AgreementID += "X" // no such agreement: the referral alone is denied
	res := f.submit("51", r, u)
	if res[0].Outcome != OutcomeDenied {
		t.Fatalf("the referral: %+v, want %s", res[0], OutcomeDenied)
	}
	wantUpdateRefusedForItsSender(t, res[1])
	if n := f.nodes["51"].store.Depth()["44"]; n != 0 {
		t.Errorf("%d envelopes queued for 44, want none", n)
	}
}
