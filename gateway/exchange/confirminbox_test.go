package exchange

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestTheInboxMarksAConfirmationOfAnotherWorker: a confirmation of another
// worker than its transfer's is in the origin's inbox marked worker_match
// mismatch, and one of the worker with how it matched, each as the
// transfer lists it, since both are written in one commit; a redelivery
// changes neither.
func TestTheInboxMarksAConfirmationOfAnotherWorker(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 31)
	tr := g.Transfer() // sent with its ID number masked: the purpose does not clear it
	other := g.Transfer()
	for masked(other.Worker.IDNumber) == masked(tr.Worker.IDNumber) {
		other = g.Transfer()
	}
	res := f.submit("51", tr)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("transfer: %+v", res[0])
	}
	origin := f.nodes["51"]
	f.awaitDelivered("51", res[0].EnvelopeID)
	wrong, right := g.Confirmation(tr), g.Confirmation(tr)
	wrong.WorkerIDNumber = other.Worker.IDNumber
	envs := []json.RawMessage{f.rawSignedBy("44", wrong), f.rawSignedBy("44", right)}
	for range 2 { // the second time, redelivered
		got, err := f.deliver("44", "51", envs...)
		if err != nil || len(got) != 2 || got[0].Status == peer.StatusRejected || got[1].Status == peer.StatusRejected {
			t.Fatalf("confirmations: %+v, %v", got, err)
		}
	}
	want := map[string]string{wrong.ID: WorkerMatchMismatch, right.ID: WorkerMatchPartial}
	items := origin.inbox(t)
	if len(items) != 2 {
		t.Fatalf("51's inbox holds %d items, want the 2 confirmations", len(items))
	}
	byRecord := map[string]string{}
	for _, it := range items {
		var c contracts.Confirmation
		if err := json.Unmarshal(it.Record, &c); err != nil {
			t.Fatal(err)
		}
		byRecord[c.ID] = it.WorkerMatch
	}
	for id, match := range want {
		if byRecord[id] != match {
			t.Errorf("the inbox item of confirmation %s has worker_match %q, want %q", id, byRecord[id], match)
		}
	}
	sameAsListed(t, origin)
	v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Answers) != 2 || v.Confirmed == nil || v.Confirmed.WorkerMatch != WorkerMatchPartial {
		t.Errorf("the transfer lists %d answers and is confirmed %+v; want 2, confirmed by the worker's, partial", len(v.Answers), v.Confirmed)
	}
}

// TestARedeliveredConfirmationIsLinkedIfItWasNot: a confirmation stored
// but not listed on its transfer (here: it arrived before the transfer
// was accepted; so an older release, which linked after the commit, left
// one when it died in between) is listed when its origin sends it again,
// checked against the transfer's worker then.
func TestARedeliveredConfirmationIsLinkedIfItWasNot(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 32)
	tr := g.Transfer()
	other := g.Transfer()
	for masked(other.Worker.IDNumber) == masked(tr.Worker.IDNumber) {
		other = g.Transfer()
	}
	wrong := g.Confirmation(tr)
	wrong.WorkerIDNumber = other.Worker.IDNumber
	env := f.rawSignedBy("44", wrong)
	if got, err := f.deliver("44", "51", env); err != nil || got[0].Status != peer.StatusStored {
		t.Fatalf("confirmation: %+v, %v", got, err)
	}
	origin := f.nodes["51"]
	if it := origin.inbox(t)[0]; it.WorkerMatch != "" {
		t.Errorf("a confirmation of a transfer not known is marked worker_match %q", it.WorkerMatch)
	}
	if res := f.submit("51", tr); res[0].Outcome != OutcomeAccepted {
		t.Fatalf("transfer: %+v", res[0])
	}
	if got, err := f.deliver("44", "51", env); err != nil || got[0].Status != peer.StatusDuplicate {
		t.Fatalf("confirmation again: %+v, %v", got, err)
	}
	ref := Ref(&tr.Header, contracts.RecordTransfer)
	id, err := origin.store.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	st, err := origin.store.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Answers) != 1 || st.Answers[0].Refused != ReasonWorkerMismatch {
		t.Errorf("the transfer lists %+v; want the confirmation of another worker, refused %s", st.Answers, ReasonWorkerMismatch)
	}
}

// sameAsListed fails t unless every confirmation in n's inbox carries the
// worker match its transfer lists it with, and the transfer lists refused
// exactly those marked mismatch.
func sameAsListed(t *testing.T, n *node) {
	t.Helper()
	for _, it := range n.inbox(t) {
		if it.Type != string(contracts.RecordConfirmation) {
			continue
		}
		var c contracts.Confirmation
		if err := json.Unmarshal(it.Record, &c); err != nil {
			t.Fatal(err)
		}
		id, err := n.store.Lookup(n.province + "/transfer/" + c.TransferID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := n.store.Status(id)
		if err != nil {
			t.Fatal(err)
		}
		var listed *store.Answer
		for i := range st.Answers {
			if st.Answers[i].EnvelopeID == it.EnvelopeID {
				listed = &st.Answers[i]
			}
		}
		if listed == nil {
			t.Errorf("confirmation %s is in the inbox (worker_match %q) but not listed on its transfer", it.EnvelopeID, it.WorkerMatch)
			continue
		}
		var s Confirmed
		if err := json.Unmarshal(listed.Summary, &s); err != nil {
			t.Fatal(err)
		}
		if s.WorkerMatch != it.WorkerMatch || (listed.Refused == ReasonWorkerMismatch) != (it.WorkerMatch == WorkerMatchMismatch) {
			t.Errorf("confirmation %s: inbox worker_match %q; the transfer lists it with %q, refused %q", it.EnvelopeID, it.WorkerMatch, s.WorkerMatch, listed.Refused)
		}
	}
}

// masked is an ID number as the federation's id_number mask leaves it.
func masked(id string) string { return id[:3] + id[len(id)-4:] }
