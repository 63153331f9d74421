package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestAConfirmationOfAnotherWorkerConfirmsNothing: 44 confirms the
// transfer 51 sent, naming it by id, but with another worker's ID number
// (a clerical error, or worse). 51 lists it on the transfer refused
// worker_mismatch, shows the transfer unconfirmed, and warns with the ids
// alone; its inbox item, as the local API gives it and as the webhook
// pushes it to 51's system, is marked worker_match mismatch. A
// confirmation with the worker's number, which 51 sent masked (the
// agreement clears ID numbers for employment confirmation, not for
// employment service), matches on the positions the mask left, and stands
// though the refused one was confirmed the same day and arrived first; its
// since, a day before the contract's first, is flagged; its inbox item
// says partial.
func TestAConfirmationOfAnotherWorkerConfirmsNothing(t *testing.T) {
	pushed := pushedItems(t)
	f := start(t, func(c *node.Config) { c.Webhook.URL = pushed.url })
	ctx := context.Background()
	g := f.gens["44"]
	tr, other := twoWorkers(g, contracts.PurposeEmploymentService)
	res := f.sendDelivered("51", tr)
	origin := f.system("51")
	view := func() exchange.RecordView {
		t.Helper()
		v, err := origin.Record(ctx, res[0].EnvelopeID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	answer := func(v exchange.RecordView, envelopeID string) *store.Answer {
		for i := range v.Answers {
			if v.Answers[i].EnvelopeID == envelopeID {
				return &v.Answers[i]
			}
		}
		return nil
	}

	wrong := g.Confirmation(tr)
	for !wrong.Employed {
		wrong = g.Confirmation(tr)
	}
	wrong.Purpose = contracts.PurposeEmploymentConfirmation
	wrong.WorkerIDNumber = other.Worker.IDNumber
	sent := f.submit("44", wrong)
	if sent[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("confirmation of another worker: %+v", sent[0])
	}
	gatewaytest.Eventually(t, "51 to list the confirmation on the transfer", func() bool { return answer(view(), sent[0].EnvelopeID) != nil })
	v := view()
	if v.Confirmed != nil {
		t.Errorf("a confirmation of another worker confirms the transfer: by %s, worker_match %q", v.Confirmed.EnvelopeID, v.Confirmed.WorkerMatch)
	}
	if a := answer(v, sent[0].EnvelopeID); a.Refused != exchange.ReasonWorkerMismatch {
		t.Errorf("the confirmation of another worker is listed refused %q, summary %s; want it refused %s", a.Refused, a.Summary, exchange.ReasonWorkerMismatch)
	}
	f.waitArrived("51", sent[0].EnvelopeID) // in the inbox all the same
	if it := f.inboxItem("51", sent[0].EnvelopeID); it.WorkerMatch != exchange.WorkerMatchMismatch {
		t.Errorf("the inbox item of the confirmation of another worker has worker_match %q, want %q", it.WorkerMatch, exchange.WorkerMatchMismatch)
	}
	pushed.wait(t, sent[0].EnvelopeID, exchange.WorkerMatchMismatch)
	warned := false
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "worker_mismatch") &&
			strings.Contains(line, sent[0].EnvelopeID) && strings.Contains(line, wrong.TransferID) {
			warned = true
		}
	}
	if !warned {
		t.Error("51 did not warn of the mismatch, naming the confirmation's envelope and the transfer")
	}

	right := *wrong
	right.ID = g.Confirmation(tr).ID
	right.WorkerIDNumber = tr.Worker.IDNumber
	early := contracts.DateOf(tr.Placement.ContractStart.Time().AddDate(0, 0, -1))
	right.Since = &early
	sent = f.submit("44", &right)
	if sent[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("confirmation of the worker: %+v", sent[0])
	}
	gatewaytest.Eventually(t, "51 to show the transfer confirmed", func() bool { return view().Confirmed != nil })
	got := view().Confirmed
	if got.EnvelopeID != sent[0].EnvelopeID || got.WorkerMatch != exchange.WorkerMatchPartial || !got.SinceBeforeContractStart {
		t.Errorf("confirmed by %s, worker_match %q, since_before_contract_start %v; want by %s, %q, true",
			got.EnvelopeID, got.WorkerMatch, got.SinceBeforeContractStart, sent[0].EnvelopeID, exchange.WorkerMatchPartial)
	}
	if it := f.inboxItem("51", sent[0].EnvelopeID); it.WorkerMatch != exchange.WorkerMatchPartial {
		t.Errorf("the inbox item of the confirmation of the worker has worker_match %q, want %q", it.WorkerMatch, exchange.WorkerMatchPartial)
	}
	pushed.wait(t, sent[0].EnvelopeID, exchange.WorkerMatchPartial)
}

// pushes is a provincial system taking every node's webhook pushes, which
// keeps the worker_match of each item by envelope id.
type pushes struct {
	url string
	mu  sync.Mutex
	got map[string]string
}

// pushedItems starts a system that takes the pushes, until t ends.
func pushedItems(t *testing.T) *pushes {
	t.Helper()
	p := &pushes{got: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Items []store.Incoming `json:"items"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad push", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, it := range body.Items {
			p.got[it.EnvelopeID] = it.WorkerMatch
		}
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// wait waits until the item of envelopeID is pushed, and fails t unless
// it carries worker match want.
func (p *pushes) wait(t *testing.T, envelopeID, want string) {
	t.Helper()
	var match string
	gatewaytest.Eventually(t, "the push of "+envelopeID, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		var ok bool
		match, ok = p.got[envelopeID]
		return ok
	})
	if match != want {
		t.Errorf("the webhook pushed the item of %s with worker_match %q, want %q", envelopeID, match, want)
	}
}

// masked is an ID number as the federation's id_number mask leaves it.
func masked(id string) string { return id[:3] + id[len(id)-4:] }

// twoWorkers returns a transfer for purpose, and another of g's whose
// worker's ID number the id_number mask still tells apart from its.
func twoWorkers(g *synth.Generator, purpose contracts.Purpose) (tr, other *contracts.Transfer) {
	tr = g.Transfer()
	tr.Purpose = purpose
	other = g.Transfer()
	for masked(other.Worker.IDNumber) == masked(tr.Worker.IDNumber) {
		other = g.Transfer()
	}
	return tr, other
}

// TestAMaskedConfirmationOfATransferSentInClearCompares: 51 sends a
// transfer with the worker's ID number in clear (the agreement clears it
// for rights protection), and 44 confirms it for a training subsidy, for
// which its policy masks the number to its first 3 and last 4 characters.
// The confirmation of the worker matches on those (partial), where the
// digest of the whole number alone compared nothing; one of another
// worker, masked alike, is refused.
func TestAMaskedConfirmationOfATransferSentInClearCompares(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	g := f.gens["44"]
	tr, other := twoWorkers(g, contracts.PurposeRightsProtection)
	res := f.sendDelivered("51", tr)
	arrived := f.inboxItem("44", res[0].EnvelopeID)
	var sent contracts.Transfer
	if err := json.Unmarshal(arrived.Record, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Worker.IDNumber != tr.Worker.IDNumber {
		t.Fatal("the transfer did not cross with the worker's ID number in clear")
	}

	confirm := func(idNumber string) string {
		t.Helper()
		c := g.Confirmation(tr)
		c.Purpose = contracts.PurposeTrainingSubsidy
		c.WorkerIDNumber = idNumber
		got := f.submit("44", c)
		if got[0].Outcome != exchange.OutcomeAccepted {
			t.Fatalf("confirmation: %+v", got[0])
		}
		f.waitArrived("51", got[0].EnvelopeID)
		var arrived contracts.Confirmation
		if err := json.Unmarshal(f.inboxItem("51", got[0].EnvelopeID).Record, &arrived); err != nil {
			t.Fatal(err)
		}
		if arrived.WorkerIDNumber == idNumber || masked(arrived.WorkerIDNumber) != masked(idNumber) {
			t.Fatal("the confirmation did not cross with the worker's ID number masked to its first 3 and last 4 characters")
		}
		return got[0].EnvelopeID
	}
	wrong, right := confirm(other.Worker.IDNumber), confirm(tr.Worker.IDNumber)
	for id, want := range map[string]string{wrong: exchange.WorkerMatchMismatch, right: exchange.WorkerMatchPartial} {
		if got := f.inboxItem("51", id).WorkerMatch; got != want {
			t.Errorf("the inbox item of confirmation %s has worker_match %q, want %q", id, got, want)
		}
	}
	v, err := f.system("51").Record(ctx, res[0].EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	if c := v.Confirmed; c == nil || c.EnvelopeID != right || c.WorkerMatch != exchange.WorkerMatchPartial {
		t.Errorf("the transfer is confirmed: %v; want by %s, partial", confirmedBy(c), right)
	}
	for _, a := range v.Answers {
		if a.EnvelopeID == wrong && a.Refused != exchange.ReasonWorkerMismatch {
			t.Errorf("the confirmation of another worker is listed refused %q, want %s", a.Refused, exchange.ReasonWorkerMismatch)
		}
	}
}

// confirmedBy says which confirmation c is and how its worker matched.
func confirmedBy(c *exchange.Confirmed) string {
	if c == nil {
		return "not at all"
	}
	return "by " + c.EnvelopeID + ", " + c.WorkerMatch
}
