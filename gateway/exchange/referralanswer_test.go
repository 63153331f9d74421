package exchange

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestOnlyTheReferredProvinceAnswersACase: every move of a case but
// closing is the answer of the province the case was referred to. 51
// refers a case to 44; 51's own accepted or rejected, and once 44 has
// accepted, its investigating or resolved, is refused when submitted, on
// status and naming who may send it, and rejected invalid_case_transition
// when it arrives from a 51 that skipped that check, leaving the case as
// it was at both ends. 51's closing is taken. (From a review: 51 sent
// "accepted" for its own referral, and 44 could no longer reject it.)
func TestOnlyTheReferredProvinceAnswersACase(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 71)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r := f.referCases(g, 1)[0]
	key := store.CaseKey("51", "44", r.ID)
	gatewaytest.Eventually(t, "51's referral at 44", func() bool {
		_, err := dest.store.Case(key, f.now)
		return err == nil
	})
	update := func(from, to string, status contracts.CaseStatus) *contracts.ReferralUpdate {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status = from, to, status
		if status == contracts.CaseRejected && u.Note == "" {
			u.Note = "out of scope"
		}
		return u
	}
	wantCase := func(status contracts.CaseStatus, updates int) {
		t.Helper()
		for _, n := range []*node{origin, dest} {
			gatewaytest.Eventually(t, "the case "+string(status)+" at "+n.province, func() bool {
				c, err := n.store.Case(key, f.now)
				return err == nil && c.Status == string(status) && len(c.Updates) == updates
			})
		}
	}
	refused := func(status contracts.CaseStatus, updates int) {
		t.Helper()
		u := update("51", "44", status)
		res := f.submit("51", u)[0]
		if res.Outcome != OutcomeInvalid || res.EnvelopeID != "" || len(res.Problems) != 1 || res.Problems[0].Path != "status" {
			t.Errorf("51's own %s, submitted: %+v, want %s with one problem on status", status, res, OutcomeInvalid)
		} else if msg := res.Problems[0].Message; !strings.Contains(msg, "only province 44") || !strings.Contains(msg, "province 51, which opened it, may only close it") {
			t.Errorf("51's own %s, submitted: the problem %q should say that only 44 may send it and 51 may only close the case", status, msg)
		}
		if id, err := origin.store.Lookup(Ref(u.Head(), u.Type())); err == nil {
			t.Errorf("51's own %s was queued as %s", status, id)
		}
		inbox := len(dest.inbox(t))
		got, err := f.deliver("51", "44", f.rawSignedBy("51", u))
		if err != nil {
			t.Fatal(err)
		}
		if r := got[0]; r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonInvalidTransition}) || r.Receipt != nil {
			t.Errorf("51's own %s, arrived at 44: %s %v, receipt of %d bytes; want %s [%s] and no receipt", status, r.Status, r.Reasons, len(r.Receipt), peer.StatusRejected, ReasonInvalidTransition)
		}
		if n := len(dest.inbox(t)); n != inbox {
			t.Errorf("51's own %s stored at 44: its inbox holds %d envelopes, want %d", status, n, inbox)
		}
		for _, n := range []*node{origin, dest} {
			if c, err := n.store.Case(key, f.now); err != nil || len(c.Updates) != updates {
				t.Errorf("the case at %s after 51's own %s: %+v, %v; want it as it was, with %d updates", n.province, status, c, err, updates)
			}
		}
	}

	refused(contracts.CaseAccepted, 0)
	refused(contracts.CaseRejected, 0)
	wantCase(contracts.CaseReferred, 0)

	// 44 answers, and may still: 51's attempts took nothing from it.
	if res := f.submit("44", update("44", "51", contracts.CaseAccepted))[0]; res.Outcome != OutcomeAccepted {
		t.Fatalf("44's acceptance: %+v", res)
	}
	wantCase(contracts.CaseAccepted, 1)
	refused(contracts.CaseInvestigating, 1)
	refused(contracts.CaseResolved, 1)
	wantCase(contracts.CaseAccepted, 1)

	// 51 may close its case, and the close is taken at both ends.
	closed := f.submit("51", update("51", "44", contracts.CaseClosed))[0]
	if closed.Outcome != OutcomeAccepted {
		t.Fatalf("51's closing: %+v, want %s", closed, OutcomeAccepted)
	}
	gatewaytest.Eventually(t, "51's closing delivered", func() bool {
		v, err := origin.x.Record(context.Background(), origin.system, closed.EnvelopeID)
		return err == nil && v.State == store.StateDelivered
	})
	wantCase(contracts.CaseClosed, 2)
}
