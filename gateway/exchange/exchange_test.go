package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestTransferCrossesAndIsConfirmed runs with the audit log in the store's
// file, as on a node (entries written in the store's transactions), and in a
// file of its own (entries appended after each commit).
func TestTransferCrossesAndIsConfirmed(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) { testTransferCrosses(t, mode) })
	}
}

func testTransferCrosses(t *testing.T, mode auditMode) {
	f := newFederationWith(t, mode, 0, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 7)
	tr := g.Transfer()

	res := f.submit("51", tr)
	if res[0].Outcome != OutcomeAccepted || res[0].EnvelopeID == "" {
		t.Fatalf("submit = %+v", res[0])
	}
	dest := f.nodes["44"]
	gatewaytest.Eventually(t, "the transfer to reach 44", func() bool { return len(dest.inbox(t)) == 1 })
	in := dest.inbox(t)[0]
	if in.EnvelopeID != res[0].EnvelopeID || in.From != "51" || in.Type != "transfer" {
		t.Errorf("inbox item = %+v", in)
	}
	var got contracts.Transfer
	if err := json.Unmarshal(in.Record, &got); err != nil {
		t.Fatal(err)
	}
	// Employment service does not need the ID number in clear: the bundle masks it.
	id := tr.Worker.IDNumber
	if want := id[:3] + strings.Repeat("*", 11) + id[14:]; got.Worker.IDNumber != want {
		t.Errorf("worker.id_number arrived as %q, want %q", got.Worker.IDNumber, want)
	}
	if got.Placement.EmployerCreditCode != tr.Placement.EmployerCreditCode || got.Worker.HouseholdDivision != tr.Worker.HouseholdDivision {
		t.Errorf("fields in scope were changed: %+v", got.Placement)
	}

	origin := f.nodes["51"]
	f.awaitDelivered("51", res[0].EnvelopeID)

	conf := g.Confirmation(tr)
	cres := f.submit("44", conf)
	if cres[0].Outcome != OutcomeAccepted {
		t.Fatalf("confirmation = %+v", cres[0])
	}
	var view RecordView
	gatewaytest.Eventually(t, "the confirmation on the origin's transfer", func() bool {
		var err error
		view, err = origin.x.Record(context.Background(), origin.system, Ref(&tr.Header, contracts.RecordTransfer))
		return err == nil && view.Confirmed != nil
	})
	if view.Confirmed.Employed != conf.Employed || view.Confirmed.EnvelopeID != cres[0].EnvelopeID {
		t.Errorf("confirmed = %+v, want employed=%v from %s", view.Confirmed, conf.Employed, cres[0].EnvelopeID)
	}
	var receipt contracts.Receipt
	if err := json.Unmarshal(view.Confirmed.Receipt, &receipt); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	destCert := dest.leaf.Cert
	if err := receipt.Verify(destCert.PublicKey); err != nil || receipt.EnvelopeID != res[0].EnvelopeID {
		t.Errorf("the destination's receipt does not verify: %v (%+v)", err, receipt)
	}

	// Both audit logs hold the flow, matched by envelope id and digest.
	sent := find(origin.auditEntries(t), audit.KindSent, res[0].EnvelopeID)
	recv := find(dest.auditEntries(t), audit.KindReceived, res[0].EnvelopeID)
	if sent == nil || recv == nil || sent.PayloadDigest != recv.PayloadDigest || sent.PayloadDigest.IsZero() {
		t.Errorf("audit: sent %+v, received %+v", sent, recv)
	}
	// The origin's receipt entry carries the digest the destination signed for.
	gatewaytest.Eventually(t, "the receipt entry at 51", func() bool { return find(origin.auditEntries(t), audit.KindReceipt, res[0].EnvelopeID) != nil })
	if rc := find(origin.auditEntries(t), audit.KindReceipt, res[0].EnvelopeID); sent != nil && rc.PayloadDigest != sent.PayloadDigest {
		t.Errorf("receipt entry digest %s, sent %s", rc.PayloadDigest, sent.PayloadDigest)
	}
	// And the origin's log holds the destination's receipt for it.
	if rc := find(origin.auditEntries(t), audit.KindReceipt, res[0].EnvelopeID); rc == nil || rc.PayloadDigest != sent.PayloadDigest || rc.Destination != "44" {
		t.Errorf("audit: receipt %+v", rc)
	}
	for _, n := range f.nodes {
		checkAuditClean(t, n)
	}
}

func find(es []audit.Entry, kind audit.Kind, id string) *audit.Entry {
	for i := range es {
		if es[i].Kind == kind && es[i].EnvelopeID == id {
			return &es[i]
		}
	}
	return nil
}

// checkAuditClean scans a node's audit log for personal data. Digests are
// left out: they are hex and may contain digit runs that look like numbers.
func checkAuditClean(t *testing.T, n *node) {
	t.Helper()
	for _, e := range n.auditEntries(t) {
		e.PayloadDigest = audit.Digest{}
		b, _ := json.Marshal(e)
		gatewaytest.NoPersonalData(t, "audit log of "+n.province, string(b))
	}
}

func TestDeniedRecordNeverCrosses(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended })
	g := f.generator("51", "44", 8)
	res := f.submit("51", g.Transfer())
	if res[0].Outcome != OutcomeDenied || len(res[0].Reasons) == 0 {
		t.Fatalf("submit = %+v, want denied with reasons", res[0])
	}
	if res[0].Reasons[0].Code != "agreement_suspended" {
		t.Errorf("reasons = %+v", res[0].Reasons)
	}
	origin := f.nodes["51"]
	v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID)
	if err != nil || v.State != store.StateDenied || !slices.Contains(v.Reasons, "agreement_suspended") {
		t.Errorf("record view = %+v, %v", v, err)
	}
	if d := origin.store.Depth(); d["44"] != 0 {
		t.Errorf("a denied record was queued: %v", d)
	}
	e := find(origin.auditEntries(t), audit.KindDenied, res[0].EnvelopeID)
	if e == nil || e.Decision != audit.Deny || !slices.Contains(e.Reasons, audit.ReasonAgreementSuspended) {
		t.Errorf("audit entry = %+v", e)
	}
}

func TestInvalidRecordsAreNamedAndNothingIsStored(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 9)
	bad := g.Transfer()
	bad.Worker.IDNumber = bad.Worker.IDNumber[:17] + "0"
	if bad.Worker.IDNumber == g.Transfer().Worker.IDNumber {
		t.Fatal("test record unexpectedly valid")
	}
	good := g.Transfer()
	n := f.nodes["51"]
	docs := encode(t, bad, good)
	docs = append(docs, json.RawMessage(`{"schema":"laborlink.transfer/v1","bogus":1}`))
	res, err := n.x.Submit(context.Background(), n.system, docs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != OutcomeInvalid || res[0].Problems[0].Path != "worker.id_number" {
		t.Errorf("bad record = %+v", res[0])
	}
	if res[1].Outcome != OutcomeAccepted {
		t.Errorf("good record in the same batch = %+v", res[1])
	}
	if res[2].Outcome != OutcomeInvalid || !strings.Contains(res[2].Problems[0].Message, "bogus") {
		t.Errorf("unknown field = %+v", res[2])
	}
	if _, err := n.store.Lookup(Ref(&bad.Header, contracts.RecordTransfer)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the invalid record was stored: %v", err)
	}
}

func TestSameReferenceIsStoredOnce(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	tr := f.generator("51", "44", 10).Transfer()
	first := f.submit("51", tr)
	again := f.submit("51", tr, tr)
	for _, r := range again {
		if r.Outcome != OutcomeDuplicate || r.EnvelopeID != first[0].EnvelopeID {
			t.Errorf("resubmission = %+v, want duplicate of %s", r, first[0].EnvelopeID)
		}
	}
	dest := f.nodes["44"]
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return f.nodes["51"].store.Depth()["44"] == 0 })
	if got := len(dest.inbox(t)); got != 1 {
		t.Errorf("destination stored %d records, want 1", got)
	}
}

func TestSubmitterMustSpeakForTheProvince(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	tr := f.generator("51", "44", 11).Transfer()
	n := f.nodes["51"]
	for _, caller := range []pki.Identity{
		{Domain: "fed.test", Province: "44", Kind: pki.KindSystem, Name: "hr"},
		{Domain: "fed.test", Province: "51", Kind: pki.KindAuditor, Name: "a"},
	} {
		_, err := n.x.Submit(context.Background(), caller, encode(t, tr))
		if ErrorCode(err) != CodeForbidden {
			t.Errorf("%s: err = %v, want forbidden", caller, err)
		}
	}
	// A 51 system submitting a record that claims to come from 44.
	g44 := f.generator("44", "51", 12)
	res := f.submit("51", g44.Transfer())
	if res[0].Outcome != OutcomeForbidden {
		t.Errorf("record from another province = %+v", res[0])
	}
}

func TestForgedOriginIsRefused(t *testing.T) {
	f := newFederation(t, "51", "44", "33")
	f.agreement("51", "33")
	tr := f.generator("51", "33", 13).Transfer()
	attacker := f.nodes["44"]
	victim := f.nodes["33"]
	raw := f.rawSignedBy("44", tr)

	res, err := f.deliver("44", "33", raw)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != peer.StatusRejected || res[0].Reasons[0] != ReasonOriginMismatch {
		t.Errorf("forged origin = %+v", res[0])
	}
	// Presenting 51's chain without 51's key: the chain is not the caller's.
	_, err = victim.x.Receive(context.Background(), attacker.leaf.Identity, f.pki.Signer(f.nodes["51"].leaf).Chain(), []json.RawMessage{raw}, nil)
	if ErrorCode(err) != CodeForbidden {
		t.Errorf("someone else's chain: err = %v, want forbidden", err)
	}
	if len(victim.inbox(t)) != 0 {
		t.Error("a refused envelope reached the inbox")
	}
	// The victim's auditors see the attempt: denied, for a province
	// mismatch, as a flow from the province of the node that sent it,
	// not the one it claimed.
	es := victim.auditEntries(t)
	if len(es) != 1 || es[0].Kind != audit.KindDenied || es[0].EnvelopeID != res[0].EnvelopeID || es[0].Origin != "44" || es[0].Destination != "33" ||
		!strings.HasPrefix(es[0].Peer, "spiffe://p44.") || len(es[0].Reasons) != 1 || es[0].Reasons[0] != audit.ReasonProvinceMismatch {
		t.Errorf("the destination's audit log holds %+v; want the forged envelope denied for province-mismatch, peer 44's node", es)
	}
}

func TestTamperedEnvelopeIsRejected(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	tr := f.generator("51", "44", 14).Transfer()
	env := f.signedBy("51", tr)
	env.AgreementVersion = 2
	raw, _ := json.Marshal(env)
	unsigned := *env
	unsigned.Signature = nil
	rawUnsigned, _ := json.Marshal(unsigned)
	res, err := f.deliver("51", "44", raw, rawUnsigned, json.RawMessage(`{"id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ReasonBadSignature, ReasonBadSignature, ReasonMalformed}
	for i, r := range res {
		if r.Status != peer.StatusRejected || r.Reasons[0] != want[i] {
			t.Errorf("envelope %d = %+v, want rejected %s", i, r, want[i])
		}
	}
	// Each refusal is audited at the destination too, as the origin
	// audits its receipt: once per envelope id (the tampered and the
	// unsigned copy share one), the malformed one, of which nothing could
	// be read, under its sender's province.
	wantReasons := map[audit.Reason]int{audit.ReasonSignatureInvalid: 1, audit.ReasonContractInvalid: 1}
	for _, e := range f.nodes["44"].auditEntries(t) {
		if e.Kind != audit.KindDenied || e.Origin != "51" || e.Destination != "44" || !strings.HasPrefix(e.Peer, "spiffe://p51.") || len(e.Reasons) != 1 {
			t.Errorf("destination's entry %+v; want a denial from 51's node", e)
			continue
		}
		wantReasons[e.Reasons[0]]--
	}
	for r, n := range wantReasons {
		if n != 0 {
			t.Errorf("%d entries short for reason %s in the destination's audit log", n, r)
		}
	}
}

func TestDestinationOutageLosesNothing(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 15)
	origin, dest := f.nodes["51"], f.nodes["44"]

	var want []string
	submit := func(n int) {
		for range n {
			res := f.submit("51", g.Transfer())
			if res[0].Outcome != OutcomeAccepted {
				t.Fatalf("submit = %+v", res[0])
			}
			want = append(want, res[0].EnvelopeID)
		}
	}
	submit(10)
	gatewaytest.Eventually(t, "the first records to arrive", func() bool { return len(dest.inbox(t)) == 10 })

	dest.server.Close()
	submit(40) // the origin keeps accepting while the destination is down
	gatewaytest.Eventually(t, "the breaker to open", func() bool { return origin.client.BreakerState()["44"].String() == "open" })

	// The destination comes back at a new address, as after a reschedule.
	dest.server = f.pki.Serve(dest.leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}, peer.NewHandler(dest.x))
	f.dir.set("44", dest.server.URL)
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return origin.store.Depth()["44"] == 0 })

	// Exactly once, with the same payload on both sides: the origin's
	// "sent" entry, the envelope the destination stored, the destination's
	// "received" entry and the receipt the origin holds all name one digest.
	got := map[string]int{}
	stored := map[string]string{} // envelope id -> payload digest as stored
	for _, in := range dest.inbox(t) {
		got[in.EnvelopeID]++
		var env contracts.Envelope
		if err := json.Unmarshal(in.Envelope, &env); err != nil {
			t.Fatalf("inbox item %s: %v", in.EnvelopeID, err)
		}
		stored[in.EnvelopeID] = env.PayloadDigest
	}
	if len(got) != len(want) {
		t.Fatalf("destination has %d distinct records, want %d", len(got), len(want))
	}
	sent, received := digestsOf(t, origin, audit.KindSent), digestsOf(t, dest, audit.KindReceived)
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("envelope %s stored %d times", id, got[id])
		}
		d, ok := sent[id]
		if !ok {
			t.Errorf("the origin's log has no sent entry for %s", id)
			continue
		}
		if r, ok := received[id]; !ok || r != d {
			t.Errorf("envelope %s: sent with digest %s, received with %s (logged: %v)", id, d, r, ok)
		}
		if stored[id] != "sha256:"+d.String() {
			t.Errorf("envelope %s: sent with digest %s, stored with %s", id, d, stored[id])
		}
		v, err := origin.x.Record(context.Background(), origin.system, id)
		if err != nil || v.State != store.StateDelivered {
			t.Errorf("record %s: %+v, %v", id, v.State, err)
			continue
		}
		var rc contracts.Receipt
		if err := json.Unmarshal(v.Receipt, &rc); err != nil || rc.PayloadDigest != stored[id] {
			t.Errorf("record %s: receipt for digest %q (%v), want %s", id, rc.PayloadDigest, err, stored[id])
		}
	}
}

// digestsOf maps the envelope id of each of n's audit entries of kind to
// its payload digest, failing t for an envelope logged twice.
func digestsOf(t *testing.T, n *node, kind audit.Kind) map[string]audit.Digest {
	t.Helper()
	out := map[string]audit.Digest{}
	for _, e := range n.auditEntries(t) {
		if e.Kind != kind {
			continue
		}
		if _, ok := out[e.EnvelopeID]; ok {
			t.Errorf("%s logged %s twice", e.EnvelopeID, kind)
		}
		out[e.EnvelopeID] = e.PayloadDigest
	}
	return out
}

func TestReferralCaseFollowsUpdatesBothWays(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 16)
	r := referralFrom(g, "44")
	r.Status = contracts.CaseReferred
	r.Deadline = contracts.DateOf(f.now.AddDate(0, 0, -1)) // already past
	sent := f.submit("44", r)
	if sent[0].Outcome != OutcomeAccepted {
		t.Fatalf("referral = %+v", sent[0])
	}
	origin, dest := f.nodes["51"], f.nodes["44"]
	key := store.CaseKey("44", "51", r.ID)
	// Delivered, with its receipt back at 44: until then 44 defers an
	// update from 51 of a case 44 opened (referral_unanswered).
	f.awaitDelivered("44", sent[0].EnvelopeID)

	update := func(from string, status contracts.CaseStatus) SubmitResult {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status = from, map[string]string{"51": "44", "44": "51"}[from], status
		return f.submit(from, u)[0]
	}
	// A referred case cannot be resolved before it is accepted.
	if res := update("51", contracts.CaseResolved); res.Outcome != OutcomeInvalid || res.Problems[0].Path != "status" {
		t.Fatalf("illegal transition = %+v", res)
	}
	// Nor can a peer make that move by sending the update itself.
	skip := g.ReferralUpdate(r)
	skip.From, skip.To, skip.Status = "51", "44", contracts.CaseClosed
	got, err := f.deliver("51", "44", f.rawSignedBy("51", skip))
	if err != nil || got[0].Status != peer.StatusRejected || got[0].Reasons[0] != ReasonInvalidTransition {
		t.Fatalf("a referred case closed by the peer directly: %+v, %v", got, err)
	}
	if res := update("51", contracts.CaseAccepted); res.Outcome != OutcomeAccepted {
		t.Fatalf("accept = %+v", res)
	}
	gatewaytest.Eventually(t, "the acceptance at 44", func() bool {
		c, err := dest.store.Case(key, f.now)
		return err == nil && c.Status == "accepted"
	})
	cases, err := dest.x.Cases(context.Background(), dest.system, "", true)
	if err != nil || len(cases) != 1 || !cases[0].Overdue || cases[0].Direction != "sent" {
		t.Fatalf("overdue cases at 44 = %+v, %v", cases, err)
	}
	// The auditor sees the same from the audit log alone: no content, only
	// statuses, deadlines and links between envelopes.
	st := audit.Stats(dest.auditEntries(t), f.now)
	if st.Referrals.ByStatus[audit.DetailAccepted] != 1 || len(st.Referrals.Overdue) != 1 || st.Referrals.Overdue[0] != cases[0].EnvelopeID {
		t.Errorf("audit stats at 44: %+v, want one accepted, overdue case %s", st.Referrals, cases[0].EnvelopeID)
	}
	if res := update("44", contracts.CaseClosed); res.Outcome != OutcomeAccepted {
		t.Fatalf("close by the referring side = %+v", res)
	}
	gatewaytest.Eventually(t, "the closure at 51", func() bool {
		c, err := origin.store.Case(key, f.now)
		return err == nil && c.Status == "closed" && !c.Overdue && c.Direction == "received" && len(c.Updates) == 2
	})
	// Every update, sent or received, links to the referral it moves.
	for _, n := range []*node{origin, dest} {
		updates := 0
		for _, e := range n.auditEntries(t) {
			if e.RecordType != string(contracts.RecordReferralUpdate) || e.Kind != audit.KindSent && e.Kind != audit.KindReceived {
				continue
			}
			updates++
			if e.RefersTo != cases[0].EnvelopeID {
				t.Errorf("at %s, %s entry of update %s refers to %q, want the referral %s", n.province, e.Kind, e.EnvelopeID, e.RefersTo, cases[0].EnvelopeID)
			}
		}
		if updates != 2 {
			t.Errorf("at %s, %d audit entries of updates, want 2 (accepted, closed)", n.province, updates)
		}
	}
}

// TestLaggingDestinationDefers has the destination's registry lag behind the
// origin's: it does not know the agreement yet. Its denial may only be lag,
// so it defers, the origin keeps the record, and once the destination
// catches up the record is delivered. A denial long after sealing, with a
// fresh replica, is final.
func TestLaggingDestinationDefers(t *testing.T) {
	f := newFederation(t, "51", "44")
	origin, dest := f.nodes["51"], f.nodes["44"]
	a := f.agreement("51", "44")
	dest.agreements = policy.NewAgreementIndex() // 44 has not applied it yet
	dest.x.d.Agreements = dest.agreements
	g := f.generator("51", "44", 21)
	res := f.submit("51", g.Transfer())
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("submit = %+v", res[0])
	}
	gatewaytest.Eventually(t, "the destination to defer", func() bool {
		for _, p := range origin.delivery.Peers() {
			if p.Peer == "44" && strings.Contains(p.LastDeferral, "deferred") && strings.Contains(p.LastDeferral, "no_agreement") {
				return true
			}
		}
		return false
	})
	if v, _ := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID); v.State != store.StateAccepted {
		t.Fatalf("a deferred record left the outbox: %s", v.State)
	}
	dest.agreements.Put(*a) // 44 catches up
	origin.delivery.Notify("44")
	f.awaitDelivered("51", res[0].EnvelopeID)

	// Sealed long ago and decided by a fresh replica: the denial is final.
	env, err := contracts.NewEnvelope(g.Transfer(), 1, f.now.Add(-2*LagWindow))
	if err != nil {
		t.Fatal(err)
	}
	env.AgreementID = "AG-NONE"
	dec := &policy.Decision{Reasons: []policy.Reason{{Code: "no_agreement"}}}
	if dest.x.mayLag(dec, env, f.now) {
		t.Error("an old envelope's denial was deferred")
	}
	dest.stale.Store(true)
	if !dest.x.mayLag(dec, env, f.now) {
		t.Error("a stale replica's denial was final")
	}
	if dest.x.mayLag(&policy.Decision{Reasons: []policy.Reason{{Code: "no_agreement"}, {Code: "wrong_direction"}}}, env, f.now) {
		t.Error("a denial with a reason lag cannot explain was deferred")
	}
	// The province's policy is the node's own: its codes, whatever they
	// are, and a denial without any, are final. (From a review of policy.)
	if dest.x.mayLag(&policy.Decision{Reasons: []policy.Reason{{Code: "quota_reached", Layer: policy.LayerProvince}}}, env, f.now) {
		t.Error("a province denial coded quota_reached was deferred")
	}
	if dest.x.mayLag(&policy.Decision{}, env, f.now) {
		t.Error("a denial with no reason was deferred")
	}
}

// TestOnlyTheDestinationConfirms: a province the transfer did not go to
// cannot confirm it, even under an agreement of its own with the origin;
// subsidies wait for the destination's word.
func TestOnlyTheDestinationConfirms(t *testing.T) {
	f := newFederation(t, "51", "44", "33")
	f.agreement("51", "44")
	f.agreement("51", "33")
	tr := f.generator("51", "44", 31).Transfer()
	res := f.submit("51", tr)
	origin := f.nodes["51"]
	f.awaitDelivered("51", res[0].EnvelopeID)
	forged := f.generator("51", "33", 32).Confirmation(tr)
	forged.From, forged.To = "33", "51"
	forged.AgreementID = f.generator("51", "33", 32).AgreementID()
	fres := f.submit("33", forged)
	if fres[0].Outcome != OutcomeAccepted {
		t.Fatalf("33's confirmation = %+v", fres[0])
	}
	// 33 holds 51's receipt once 51 has handled the confirmation completely.
	f.awaitDelivered("33", fres[0].EnvelopeID)
	v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID)
	if err != nil || v.Confirmed != nil || len(v.Answers) != 0 {
		t.Fatalf("33 confirmed a transfer that went to 44: %+v, %v", v, err)
	}
}

// TestQuotaHoldsWithinABatchAndAcrossSubmissions: the decision reads the
// count before any record of the batch is counted, so the store checks the
// limit again as it counts; no more records are accepted than the quota.
func TestQuotaHoldsWithinABatchAndAcrossSubmissions(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaYear, Max: 7}}
	})
	g := f.generator("51", "44", 41)
	var batch []any
	for range 5 {
		batch = append(batch, g.Transfer())
	}
	accepted := 0
	count := func(rs []SubmitResult) {
		for _, r := range rs {
			switch r.Outcome {
			case OutcomeAccepted:
				accepted++
			case OutcomeDenied:
				if r.Reasons[0].Code != "quota_reached" {
					t.Errorf("denied for %+v, want quota_reached", r.Reasons)
				}
			default:
				t.Errorf("outcome %s", r.Outcome)
			}
		}
	}
	count(f.submit("51", batch...))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 4 {
		recs := []any{g.Transfer(), g.Transfer()}
		wg.Go(func() {
			rs := f.submit("51", recs...)
			mu.Lock()
			count(rs)
			mu.Unlock()
		})
	}
	wg.Wait()
	if accepted != 7 {
		t.Errorf("%d records accepted under a quota of 7", accepted)
	}
}

// TestRedeliveryIsAnsweredDuplicateOnly: an answer to a new envelope and a
// redelivered one signs one receipt each, "stored" and "duplicate", under
// one root; nothing the destination signs calls the redelivered envelope
// stored again, and the inbox holds it once.
func TestRedeliveryIsAnsweredDuplicateOnly(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 16)
	dest := f.nodes["44"]
	old, fresh := f.rawSignedBy("51", g.Transfer()), f.rawSignedBy("51", g.Transfer())
	if res, err := f.deliver("51", "44", old); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	res, err := f.deliver("51", "44", fresh, old, fresh)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []peer.Status{peer.StatusStored, peer.StatusDuplicate, peer.StatusDuplicate}
	wantReceipt := []contracts.ReceiptStatus{contracts.ReceiptStored, contracts.ReceiptDuplicate, contracts.ReceiptDuplicate}
	var root []byte
	for i, r := range res {
		rc, err := contracts.DecodeReceipt(r.Receipt)
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		if r.Status != wantStatus[i] || rc.Status != wantReceipt[i] || rc.EnvelopeID != r.EnvelopeID {
			t.Errorf("result %d: %s with a %s receipt for %s, want %s with %s", i, r.Status, rc.Status, rc.EnvelopeID, wantStatus[i], wantReceipt[i])
		}
		if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil {
			t.Errorf("result %d: %v", i, err)
		}
		if rc.Batch == nil || rc.Batch.Size != len(res) || (root != nil && string(rc.Batch.Root) != string(root)) {
			t.Errorf("result %d: receipt proof %+v, want one root over the answer's %d receipts", i, rc.Batch, len(res))
		}
		root = rc.Batch.Root
	}
	if n := len(dest.inbox(t)); n != 2 {
		t.Errorf("inbox holds %d envelopes, want 2", n)
	}
}
