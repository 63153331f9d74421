package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestConfirmationWaitsForTheTransfersReceipt: a confirmation that arrives
// while the origin has no receipt for the transfer (44's registry lagged
// and deferred it) is kept but not shown, neither as confirmed nor among
// the record's answers, for a subsidy waits on it; once the transfer is
// delivered it shows, and of two confirmations the one confirmed latest
// stands, whichever arrived last.
func TestConfirmationWaitsForTheTransfersReceipt(t *testing.T) {
	f := newFederation(t, "51", "44")
	origin, dest := f.nodes["51"], f.nodes["44"]
	a := f.agreement("51", "44")
	dest.agreements = policy.NewAgreementIndex() // 44 has not applied it yet
	dest.x.d.Agreements = dest.agreements
	g := f.generator("51", "44", 31)
	tr := g.Transfer()
	res := f.submit("51", tr)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("transfer: %+v", res[0])
	}
	later := g.Confirmation(tr)
	earlier := g.Confirmation(tr)
	earlier.ConfirmedOn = later.ConfirmedOn.AddMonths(-1)
	if earlier.Since != nil && earlier.ConfirmedOn.Before(*earlier.Since) {
		earlier.Since = nil
	}
	if got, err := f.deliver("44", "51", f.rawSignedBy("44", later), f.rawSignedBy("44", earlier)); err != nil || got[0].Status != peer.StatusStored || got[1].Status != peer.StatusStored {
		t.Fatalf("confirmations: %+v, %v", got, err)
	}
	view := func() RecordView {
		t.Helper()
		v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := view(); v.Confirmed != nil || len(v.Answers) != 0 {
		t.Fatalf("transfer %s with receipt %q shows confirmed=%+v and answers %+v", v.State, v.Receipt, v.Confirmed, v.Answers)
	}
	dest.agreements.Put(*a) // 44 catches up
	origin.delivery.Notify("44")
	gatewaytest.Eventually(t, "the transfer delivered", func() bool { return view().State == store.StateDelivered })
	v := view()
	if v.Confirmed == nil || v.Confirmed.ConfirmedOn != later.ConfirmedOn.String() || len(v.Confirmed.Receipt) == 0 {
		t.Fatalf("delivered transfer shows confirmed=%+v, want the one of %s with the transfer's receipt", v.Confirmed, later.ConfirmedOn)
	}
	if len(v.Answers) != 2 {
		t.Errorf("delivered transfer shows answers %+v, want both confirmations", v.Answers)
	}
}

// TestConfirmedSameDayLastArrivedStands: of two confirmations of one day,
// the one that arrived last stands, whatever order the answers were
// linked in (two deliveries at once may link them out of it).
func TestConfirmedSameDayLastArrivedStands(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	answer := func(id string, employed bool, at time.Time) store.Answer {
		return store.Answer{EnvelopeID: id, Type: string(contracts.RecordConfirmation), ReceivedAt: at,
			Summary: json.RawMessage(fmt.Sprintf(`{"employed":%v,"confirmed_on":"2026-03-01"}`, employed))}
	}
	for _, tc := range []struct {
		name    string
		answers []store.Answer
	}{
		{"in order", []store.Answer{answer("first", false, t0), answer("last", true, t0.Add(time.Minute))}},
		{"linked out of order", []store.Answer{answer("last", true, t0.Add(time.Minute)), answer("first", false, t0)}},
	} {
		st := store.Status{State: store.StateDelivered, Receipt: json.RawMessage(`{}`), Answers: tc.answers}
		if c := confirmed(st); c == nil || c.EnvelopeID != "last" || !c.Employed {
			t.Errorf("%s: confirmed = %+v, want the one that arrived last", tc.name, c)
		}
	}
}
