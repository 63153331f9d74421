package exchange

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestReusedEnvelopeIDWithOtherContent: 44 has stored a transfer from 33
// (envelope E). 33 then sends, under E's id, an envelope carrying a
// referral update of a case 33 referred to 44. It is refused
// (envelope_id_reused), and 44's case does not move. (From a review:
// Receive answered by id alone, signing a "duplicate" receipt for a
// payload it never received, and mended "the case" of the new record,
// moving 44's case without storing the update, without an audit entry,
// and without the import decision.)
func TestReusedEnvelopeIDWithOtherContent(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	g := f.generator("33", "44", 23)
	dest := f.nodes["44"]
	deliver := func(raw json.RawMessage) peer.Result {
		t.Helper()
		res, err := f.deliver("33", "44", raw)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	ref := referralFrom(g, "33")
	ref.Status = contracts.CaseReferred
	if r := deliver(f.rawSignedBy("33", ref)); r.Status != peer.StatusStored {
		t.Fatalf("33's referral: %+v", r)
	}
	first := f.signedBy("33", g.Transfer())
	raw, _ := json.Marshal(first)
	if r := deliver(raw); r.Status != peer.StatusStored {
		t.Fatalf("33's transfer: %+v", r)
	}
	entriesBefore := len(dest.auditEntries(t))

	u := g.ReferralUpdate(ref)
	u.From, u.To, u.Status = "33", "44", contracts.CaseRejected
	env, err := contracts.NewEnvelope(u, 1, f.now)
	if err != nil {
		t.Fatal(err)
	}
	env.ID = first.ID
	reused, _ := json.Marshal(f.sign("33", env))
	r := deliver(reused)
	if r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonEnvelopeIDReused}) || r.Receipt != nil {
		t.Errorf("the update under the transfer's id: %s %v (receipt: %v), want %s [%s] and no receipt", r.Status, r.Reasons, r.Receipt != nil, peer.StatusRejected, ReasonEnvelopeIDReused)
	}

	if r.Status == peer.StatusDuplicate || r.Status == peer.StatusStored {
		rc, err := contracts.DecodeReceipt(r.Receipt)
		if err != nil {
			t.Fatal(err)
		}
		if rc.PayloadDigest != first.PayloadDigest {
			t.Errorf("44 signed a %q receipt for payload %s under envelope %s, which it stored with payload %s", rc.Status, rc.PayloadDigest, first.ID, first.PayloadDigest)
		}
	}
	c, err := dest.store.Case(store.CaseKey("33", "44", ref.ID), f.now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != string(contracts.CaseReferred) {
		es := dest.auditEntries(t)[entriesBefore:]
		received := 0
		for _, e := range es {
			if e.Kind == audit.KindReceived {
				received++
			}
		}
		t.Errorf("the case at 44 moved to %s (updates %+v) by an envelope answered %q, with %d received audit entries for it and the inbox holding a transfer under %s", c.Status, c.Updates, r.Status, received, first.ID)
	}
}

// TestReusedEnvelopeIDIsRefused: 33 sends, under the id of a transfer 44
// holds from it, a confirmation of a transfer 44 sent. Whether the
// transfer was stored before, pruned by inbox retention since, given
// earlier in the same request, or stored by another request while the
// confirmation was checked, the confirmation is refused for good and
// audited as a refusal: not answered "duplicate", not stored, and not
// linked as an answer to 44's transfer.
func TestReusedEnvelopeIDIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prune     bool // the transfer's inbox entry, before the confirmation comes
		together  bool // the transfer and the confirmation in one request
		meanwhile bool // the transfer delivered between the confirmation's lookup and its commit
	}{
		{name: "stored before"},
		{name: "stored and pruned", prune: true},
		{name: "earlier in the request", together: true},
		{name: "stored meanwhile by another request", meanwhile: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederation(t, "33", "44")
			f.agreement("33", "44")
			f.agreement("44", "33")
			dest := f.nodes["44"]
			back := f.generator("44", "33", 29)
			answered := back.Transfer()
			sent := f.submit("44", answered)
			if sent[0].Outcome != OutcomeAccepted {
				t.Fatalf("44's transfer: %+v", sent[0])
			}
			first := f.signedBy("33", f.generator("33", "44", 23).Transfer())
			env, err := contracts.NewEnvelope(back.Confirmation(answered), 1, f.now)
			if err != nil {
				t.Fatal(err)
			}
			env.ID = first.ID
			raw, reused := marshalEnvelope(t, first), marshalEnvelope(t, f.sign("33", env))

			var r peer.Result
			switch {
			case tc.meanwhile:
				// check looks up agreements after the stored envelopes
				// were looked up, before the commit.
				dest.x.d.Agreements = &hookedAgreements{AgreementSource: dest.agreements, hook: func() {
					if res, err := f.deliver("33", "44", raw); err != nil || res[0].Status != peer.StatusStored {
						t.Errorf("33's transfer: %+v, %v", res, err)
					}
				}}
				res, err := f.deliver("33", "44", reused)
				if err != nil {
					t.Fatal(err)
				}
				r = res[0]
			case tc.together:
				res, err := f.deliver("33", "44", raw, reused)
				if err != nil {
					t.Fatal(err)
				}
				if res[0].Status != peer.StatusStored {
					t.Fatalf("33's transfer: %+v", res[0])
				}
				r = res[1]
			default:
				if res, err := f.deliver("33", "44", raw); err != nil || res[0].Status != peer.StatusStored {
					t.Fatalf("33's transfer: %+v, %v", res, err)
				}
				if tc.prune {
					if n, err := dest.store.PruneInbox(context.Background(), time.Now().Add(time.Hour), math.MaxUint64); err != nil || n != 1 {
						t.Fatalf("PruneInbox = %d, %v; want the transfer pruned", n, err)
					}
				}
				res, err := f.deliver("33", "44", reused)
				if err != nil {
					t.Fatal(err)
				}
				r = res[0]
			}

			if r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonEnvelopeIDReused}) || r.Receipt != nil {
				t.Errorf("the confirmation: %s %v (receipt: %v), want %s [%s] and no receipt", r.Status, r.Reasons, r.Receipt != nil, peer.StatusRejected, ReasonEnvelopeIDReused)
			}
			// 44's own transfer is audited as it goes, in the background:
			// only the entries under the transfer's id are looked at.
			received, refusals := dest.receivedAndRefused(t, first.ID)
			if refusals != 1 || received != 1 {
				t.Errorf("audited %d refusals and %d received envelopes under %s, want 1 of each: the confirmation's refusal and the transfer's arrival", refusals, received, first.ID)
			}
			inbox := dest.inbox(t)
			if len(inbox) != 1 || inbox[0].EnvelopeID != first.ID {
				t.Fatalf("inbox holds %+v, want the transfer alone", inbox)
			}
			if rc, err := contracts.DecodeReceipt(inbox[0].Receipt); err != nil || !rc.Matches(first) {
				t.Errorf("the receipt stored with %s is %s, %v; want the transfer's", first.ID, inbox[0].Receipt, err)
			}
			st, err := dest.store.Status(sent[0].EnvelopeID)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Answers) != 0 {
				t.Errorf("44's transfer holds %d answers; the confirmation was refused", len(st.Answers))
			}
		})
	}
}

// TestRedeliveryIsAnsweredDuplicateWithItsReceipt: the same envelope sent
// again is answered "duplicate", before and after inbox retention pruned
// its entry, with a receipt naming the payload stored; nothing more is
// stored or audited, and the entry keeps the receipt of its first
// delivery.
func TestRedeliveryIsAnsweredDuplicateWithItsReceipt(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	dest := f.nodes["44"]
	first := f.signedBy("33", f.generator("33", "44", 23).Transfer())
	raw := marshalEnvelope(t, first)
	res, err := f.deliver("33", "44", raw)
	if err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	original := res[0].Receipt
	entriesBefore := len(dest.auditEntries(t))
	for _, pruned := range []bool{false, true} {
		if pruned {
			if n, err := dest.store.PruneInbox(context.Background(), time.Now().Add(time.Hour), math.MaxUint64); err != nil || n != 1 {
				t.Fatalf("PruneInbox = %d, %v; want the transfer pruned", n, err)
			}
		}
		res, err := f.deliver("33", "44", raw)
		if err != nil {
			t.Fatal(err)
		}
		r := res[0]
		if r.Status != peer.StatusDuplicate {
			t.Fatalf("pruned %v: redelivery answered %s %v, want %s", pruned, r.Status, r.Reasons, peer.StatusDuplicate)
		}
		rc, err := contracts.DecodeReceipt(r.Receipt)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Status != contracts.ReceiptDuplicate || !rc.Matches(first) {
			t.Errorf("pruned %v: a %s receipt for %s, payload %s; want %s for %s, payload %s", pruned, rc.Status, rc.EnvelopeID, rc.PayloadDigest, contracts.ReceiptDuplicate, first.ID, first.PayloadDigest)
		}
		if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil {
			t.Errorf("pruned %v: %v", pruned, err)
		}
		inbox := dest.inbox(t)
		if len(inbox) != 1 || string(inbox[0].Receipt) != string(original) || inbox[0].PrunedAt.IsZero() != !pruned {
			t.Errorf("pruned %v: inbox holds %+v, want the transfer once with its first receipt", pruned, inbox)
		}
	}
	if es := dest.auditEntries(t)[entriesBefore:]; len(es) != 0 {
		t.Errorf("redeliveries audited %+v, want nothing", es)
	}
}

// marshalEnvelope is env as it travels.
func marshalEnvelope(t *testing.T, env *contracts.Envelope) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAnUpdateOfThePeersCaseIsNoAnswer: an update of a case the peer
// opened (its referral, received here) moves that case and answers no
// record sent from here, so the node does not look for one and warn that
// none matches: the warning is kept for answers that should have matched.
// The peer's update of its own case is its closing, once 51 accepted it.
func TestAnUpdateOfThePeersCaseIsNoAnswer(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 62)
	r := referralFrom(g, "44")
	r.Status = contracts.CaseReferred
	key := store.CaseKey("44", "51", r.ID)
	if res := f.submit("44", r); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's referral: %+v", res[0])
	}
	f.awaitCases("51", []*contracts.Referral{r})
	accepted := g.ReferralUpdate(r)
	accepted.Status = contracts.CaseAccepted
	if res := f.submit("51", accepted); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("51's acceptance of 44's case: %+v", res[0])
	}
	gatewaytest.Eventually(t, "44's case accepted at 44", func() bool {
		c, err := f.nodes["44"].store.Case(key, f.now)
		return err == nil && c.Status == string(contracts.CaseAccepted)
	})
	u := g.ReferralUpdate(r)
	u.From, u.To, u.Status = "44", "51", contracts.CaseClosed
	if res, err := f.deliver("44", "51", f.rawSignedBy("44", u)); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("44's update of its case at 51: %+v, %v", res, err)
	}
	if c, err := f.nodes["51"].store.Case(key, f.now); err != nil || c.Status != string(contracts.CaseClosed) {
		t.Fatalf("case at 51: %+v, %v; want it closed", c, err)
	}
	if logs := f.logs.String(); strings.Contains(logs, "answer matches no record sent from here") {
		t.Errorf("an update of the peer's own case warned of an answer without its record:\n%s", logs)
	}
	// An update of a case opened here still answers its referral's record.
	own := referralFrom(g, "51")
	own.Status = contracts.CaseReferred
	sent := f.submit("51", own)
	n := f.nodes["51"]
	gatewaytest.Eventually(t, "51's referral delivered", func() bool {
		v, err := n.x.Record(context.Background(), n.system, sent[0].EnvelopeID)
		return err == nil && v.State == store.StateDelivered
	})
	back := g.ReferralUpdate(own)
	back.From, back.To, back.Status = "44", "51", contracts.CaseAccepted
	if res, err := f.deliver("44", "51", f.rawSignedBy("44", back)); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("44's update of 51's case: %+v, %v", res, err)
	}
	if v, err := n.x.Record(context.Background(), n.system, sent[0].EnvelopeID); err != nil || len(v.Answers) != 1 || v.Answers[0].Type != string(contracts.RecordReferralUpdate) {
		t.Errorf("51's referral shows answers %+v (%v), want 44's update", v.Answers, err)
	}
}
