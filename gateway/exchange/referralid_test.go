package exchange

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestReferralIDTakenByTheOtherProvinceIsRefused: a referral's id is
// unique per province pair. 51 opens R to 44; 44's own referral R to 51 is
// then refused as 44 submits it, invalid, naming 51's case, and nothing is
// queued; an update of R from 44 moves 51's case, the only one, at both
// ends. (From a reviewer's finding: keyed by the province pair, 44's
// referral was taken for a redelivery of 51's and never tracked.)
func TestReferralIDTakenByTheOtherProvinceIsRefused(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 23)
	theirs := f.referCases(g, 1)[0]
	origin, dest := f.nodes["51"], f.nodes["44"]
	key := store.CaseKey("51", "44", theirs.ID)
	gatewaytest.Eventually(t, "51's referral at 44", func() bool {
		_, err := dest.store.Case(key, f.now)
		return err == nil
	})
	ours := referralFrom(g, "44")
	ours.ID, ours.Status = theirs.ID, contracts.CaseReferred
	res := f.submit("44", ours)
	if r := res[0]; r.Outcome != OutcomeInvalid || len(r.Problems) != 1 || r.Problems[0].Path != "id" || r.EnvelopeID != "" {
		t.Fatalf("44's own referral with 51's id: %+v, want %s with a problem on id", r, OutcomeInvalid)
	}
	if msg := res[0].Problems[0].Message; !strings.Contains(msg, key) || !strings.Contains(msg, "choose another id") {
		t.Errorf("the problem %q should name case %s and say to choose another id", msg, key)
	}
	if id, err := dest.store.Lookup(Ref(ours.Head(), ours.Type())); err == nil {
		t.Errorf("the refused referral was queued as %s", id)
	}

	// 44, which 51's referral went to, accepts it: the update moves 51's
	// case at both ends, and there is no other.
	u := g.ReferralUpdate(theirs)
	u.From, u.To, u.Status = "44", "51", contracts.CaseAccepted
	if res := f.submit("44", u); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's update of 51's case: %+v", res[0])
	}
	for _, n := range []*node{dest, origin} {
		gatewaytest.Eventually(t, "51's case accepted at "+n.province, func() bool {
			c, err := n.store.Case(key, f.now)
			return err == nil && c.Status == string(contracts.CaseAccepted)
		})
		cs, err := n.x.Cases(context.Background(), n.system, "", false)
		if err != nil || len(cs) != 1 || cs[0].OpenedBy != "51" || cs[0].EnvelopeID == "" || len(cs[0].Updates) != 1 {
			t.Errorf("cases at %s: %+v, %v; want 51's case alone, moved once", n.province, cs, err)
		}
	}
}

// TestReferralIDRaceIsRejectedFinal: 51 and 44 each open a referral R to
// the other before either arrives (44 cannot be reached meanwhile). Each
// arriving referral finds the id held by the destination's own and is
// rejected final (referral_id_taken), and its origin sees that on its
// record; each province keeps its own case, rejected, which no update of
// the other's referral moves: the update is refused when submitted,
// rejected when its destination knows its referral was refused there,
// deferred while it does not know yet.
func TestReferralIDRaceIsRejectedFinal(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 31)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r51 := referralFrom(g, "51")
	r44 := referralFrom(g, "44")
	r51.Status, r44.Status = contracts.CaseReferred, contracts.CaseReferred
	r44.ID = r51.ID
	key := store.CaseKey("51", "44", r51.ID)

	f.dir.set("44", "https://127.0.0.1:1") // 51 cannot reach 44
	res51 := f.submit("51", r51)
	if res51[0].Outcome != OutcomeAccepted {
		t.Fatalf("51's referral: %+v", res51[0])
	}
	// 51's answer to 44's R, sent directly as 51's node would: 51 never
	// took that referral, so it cannot move 44's case.
	u51 := g.ReferralUpdate(r44)
	u51.Status = contracts.CaseAccepted
	res44 := f.submit("44", r44)
	if res44[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's referral: %+v", res44[0])
	}
	// 44's referral reaches 51, which holds R for its own.
	wantRejected := func(n *node, id string) {
		t.Helper()
		gatewaytest.Eventually(t, "the referral rejected at its destination, seen at "+n.province, func() bool {
			v, err := n.x.Record(context.Background(), n.system, id)
			return err == nil && v.State == store.StateRejected && slices.Equal(v.Reasons, []string{ReasonReferralIDTaken})
		})
	}
	wantRejected(dest, res44[0].EnvelopeID)

	// Delivered directly while 51's referral is still queued at 51.
	deliver := func(envs ...json.RawMessage) []peer.Result {
		t.Helper()
		got, err := f.deliver("51", "44", envs...)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := deliver(f.rawSignedBy("51", r51), f.rawSignedBy("51", u51))
	if r := got[0]; r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonReferralIDTaken}) || r.Receipt != nil {
		t.Errorf("51's referral at 44: %+v, want %s [%s] and no receipt", r, peer.StatusRejected, ReasonReferralIDTaken)
	}
	if r := got[1]; r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonReferralIDTaken}) || r.Receipt != nil {
		t.Errorf("51's answer to 44's referral at 44: %+v, want %s [%s]: 51 refused that referral", r, peer.StatusRejected, ReasonReferralIDTaken)
	}

	// 51's own delivery, once 44 is reachable: rejected too, and 51 sees it.
	f.dir.set("44", dest.server.URL)
	origin.delivery.Notify("44")
	wantRejected(origin, res51[0].EnvelopeID)

	// Neither province may answer the other's referral under the id now.
	u44 := g.ReferralUpdate(r51)
	u44.Status = contracts.CaseAccepted
	if r := f.submit("44", u44)[0]; r.Outcome != OutcomeInvalid || len(r.Problems) != 1 || r.Problems[0].Path != "referral_id" {
		t.Errorf("44's answer to 51's R after 51 rejected 44's referral: %+v, want %s naming referral_id", r, OutcomeInvalid)
	}
	if r := f.submit("51", u51)[0]; r.Outcome != OutcomeInvalid || len(r.Problems) != 1 || r.Problems[0].Path != "referral_id" {
		t.Errorf("51's answer to 44's R after 44 rejected 51's referral: %+v, want %s naming referral_id", r, OutcomeInvalid)
	}
	for _, n := range []*node{origin, dest} {
		other := map[string]string{"51": "44", "44": "51"}[n.province]
		c, err := n.store.Case(key, f.now)
		if err != nil || c.OpenedBy != n.province || c.Status != string(contracts.CaseRejected) || len(c.Updates) != 1 || c.Updates[0].From != other {
			t.Errorf("the case at %s: %+v, %v; want its own referral's, rejected by %s's node and never moved by an update", n.province, c, err, other)
		}
		// Past its deadline, but the other province never took it: the
		// list says its referral was rejected, lists it rejected and does
		// not call it overdue.
		if c.Deadline >= f.now.Format(time.DateOnly) {
			t.Fatalf("the case at %s is not past its deadline (%s), so the test shows nothing", n.province, c.Deadline)
		}
		all, err := n.x.Cases(context.Background(), n.system, string(contracts.CaseRejected), false)
		if err != nil || len(all) != 1 || all[0].Referral != store.StateRejected || all[0].Overdue {
			t.Errorf("rejected cases at %s: %+v, %v; want the one case, its referral rejected, not overdue", n.province, all, err)
		}
		if overdue, err := n.x.Cases(context.Background(), n.system, "", true); err != nil || len(overdue) != 0 {
			t.Errorf("overdue cases at %s: %+v, %v; want none", n.province, overdue, err)
		}
	}
}

// TestReferralIDTakenWhileTheOwnIsInFlight: an update from 51 of R while
// 44's own referral R to 51 is still unanswered is deferred, not taken as
// an update of 44's case; a referral with an id already held is rejected
// whether held before the request or by an earlier referral of it, and a
// referral delivered again (the same envelope) stays a duplicate.
func TestReferralIDTakenWhileTheOwnIsInFlight(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 37)
	dest := f.nodes["44"]
	f.dir.set("51", "https://127.0.0.1:1") // 44 cannot reach 51
	r44 := referralFrom(g, "44")
	r44.Status = contracts.CaseReferred
	if res := f.submit("44", r44); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("44's referral: %+v", res[0])
	}
	r51 := referralFrom(g, "51")
	r51.Status, r51.ID = contracts.CaseReferred, r44.ID
	u51 := g.ReferralUpdate(r51)
	u51.From, u51.To, u51.Status = "51", "44", contracts.CaseAccepted
	other := referralFrom(g, "51")
	other.Status = contracts.CaseReferred
	again := *other
	otherEnv := f.rawSignedBy("51", other)
	got, err := f.deliver("51", "44", f.rawSignedBy("51", r51), f.rawSignedBy("51", u51), otherEnv, f.rawSignedBy("51", &again))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		status peer.Status
		reason string
	}{
		{peer.StatusRejected, ReasonReferralIDTaken},    // 44's own holds R
		{peer.StatusDeferred, ReasonReferralUnanswered}, // 44's own not answered yet
		{peer.StatusStored, ""},
		{peer.StatusRejected, ReasonReferralIDTaken}, // the one before it in the request holds the id
	} {
		r := got[i]
		if r.Status != want.status || (want.reason != "" && !slices.Equal(r.Reasons, []string{want.reason})) {
			t.Errorf("result %d: %s %v, want %s %s", i, r.Status, r.Reasons, want.status, want.reason)
		}
	}
	if got, err := f.deliver("51", "44", otherEnv); err != nil || got[0].Status != peer.StatusDuplicate || len(got[0].Receipt) == 0 {
		t.Errorf("the stored referral delivered again: %+v, %v; want %s with a receipt", got, err, peer.StatusDuplicate)
	}
	c, err := dest.store.Case(store.CaseKey("51", "44", r44.ID), f.now)
	if err != nil || c.OpenedBy != "44" || c.Status != string(contracts.CaseReferred) || len(c.Updates) != 0 {
		t.Errorf("44's case: %+v, %v; want it referred and never moved", c, err)
	}
	if n := len(dest.inbox(t)); n != 1 {
		t.Errorf("44's inbox holds %d envelopes, want 1 (51's other referral)", n)
	}
}

// TestAnUpdateWaitingForItsReferralsAnswerSaysSo: 51's referral reached 44,
// but 51 holds no answer for it (here: a dead letter, as after a receipt
// lost and delivery given up). 44's update of the case waits at 51, deferred
// referral_unanswered, which 44's worker shows, and 51 logs what waits for
// what, so that its operator can requeue the referral; or, once the dead
// letter is discarded, refer the case again.
func TestAnUpdateWaitingForItsReferralsAnswerSaysSo(t *testing.T) {
	for _, tc := range []struct{ state, says string }{
		{"failed", "waits for that referral's answer; requeue the referral"},
		{"discarded", "whose dead letter was discarded is deferred every time its origin sends it; refer the case again"},
	} {
		t.Run(tc.state, func(t *testing.T) { testUpdateWaitingForItsReferral(t, tc.state, tc.says) })
	}
}

func testUpdateWaitingForItsReferral(t *testing.T, state, says string) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 77)
	origin, dest := f.nodes["51"], f.nodes["44"]
	r := referralFrom(g, "51")
	r.Status = contracts.CaseReferred
	res := f.submit("51", r)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatal(res[0])
	}
	gatewaytest.Eventually(t, "the referral delivered", func() bool {
		st, err := origin.store.Status(res[0].EnvelopeID)
		return err == nil && st.State == store.StateDelivered
	})
	if err := origin.store.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("delivered")).Put([]byte(res[0].EnvelopeID), []byte(`{"state":"`+state+`"}`))
	}); err != nil {
		t.Fatal(err)
	}
	u := g.ReferralUpdate(r)
	u.From, u.To, u.Status = "44", "51", contracts.CaseAccepted
	if ur := f.submit("44", u); ur[0].Outcome != OutcomeAccepted {
		t.Fatal(ur[0])
	}
	gatewaytest.Eventually(t, "44's worker to show the deferral", func() bool {
		for _, p := range dest.delivery.Peers() {
			if p.Peer == "51" && strings.Contains(p.LastDeferral, ReasonReferralUnanswered) {
				return true
			}
		}
		return false
	})
	key := store.CaseKey("51", "44", r.ID)
	logs := f.logs.String()
	if !strings.Contains(logs, says) || !strings.Contains(logs, key) || !strings.Contains(logs, res[0].EnvelopeID) {
		t.Errorf("51 logged nothing naming the case %s and the referral %s, saying %q", key, res[0].EnvelopeID, says)
	}
	if c, err := origin.store.Case(key, f.now); err != nil || c.Status != string(contracts.CaseReferred) {
		t.Errorf("51's case: %+v, %v; want it unmoved while the update waits", c, err)
	}
}

// TestADeadLetteredReferralIsNotOverdue: a referral delivery gave up on
// never reached the other province either; past its deadline its case is
// not overdue, until an operator requeues it, as the audit's stats say,
// nor once an operator discards it, which it never will.
func TestADeadLetteredReferralIsNotOverdue(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	f.dir.set("44", "https://127.0.0.1:1") // 51 cannot reach 44
	r := referralFrom(f.generator("51", "44", 41), "51")
	r.Status = contracts.CaseReferred
	res := f.submit("51", r)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("the referral: %+v", res[0])
	}
	origin := f.nodes["51"]
	overdue := func() []store.Case {
		t.Helper()
		cs, err := origin.x.Cases(context.Background(), origin.system, "", true)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	if cs := overdue(); len(cs) != 1 || cs[0].Referral != store.StateAccepted {
		t.Fatalf("overdue cases while the referral waits: %+v; want it, its referral accepted (the test needs a deadline past)", cs)
	}
	if err := origin.store.MarkDead(context.Background(), "44", []store.DeadLetter{{EnvelopeID: res[0].EnvelopeID, Peer: "44", Status: 400, Reason: "refused", At: f.now}}); err != nil {
		t.Fatal(err)
	}
	if cs := overdue(); len(cs) != 0 {
		t.Errorf("overdue cases once the referral is a dead letter: %+v; want none", cs)
	}
	// A requeue may yet deliver it: its case is still referred, unlike
	// that of a referral the other province's node rejected.
	if cs, err := origin.x.Cases(context.Background(), origin.system, string(contracts.CaseReferred), false); err != nil || len(cs) != 1 || cs[0].Referral != store.StateFailed {
		t.Errorf("referred cases once the referral is a dead letter: %+v, %v; want it, its referral failed", cs, err)
	}
	if n, err := origin.store.Requeue(context.Background(), "44", store.DeadPick{EnvelopeID: res[0].EnvelopeID}); err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	if cs := overdue(); len(cs) != 1 {
		t.Errorf("overdue cases once the referral is requeued: %+v; want it again", cs)
	}
	if err := origin.store.MarkDead(context.Background(), "44", []store.DeadLetter{{EnvelopeID: res[0].EnvelopeID, Peer: "44", Status: 422, Reason: "refused", At: f.now}}); err != nil {
		t.Fatal(err)
	}
	if n, err := origin.store.Discard(context.Background(), "44", store.DeadPick{EnvelopeID: res[0].EnvelopeID}); err != nil || n != 1 {
		t.Fatalf("discard: %d, %v", n, err)
	}
	if cs := overdue(); len(cs) != 0 {
		t.Errorf("overdue cases once the referral is discarded: %+v; want none", cs)
	}
}
