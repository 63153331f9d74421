package e2e

import (
	"context"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
)

// TestATransferIsConfirmedBack: a transfer crosses from 51 to 44, 44's
// system confirms the worker's employment back, and 51's system sees on
// the transfer that employment was confirmed, on which day, with 44's
// signed receipt of the transfer: what a subsidy payment waits for.
func TestATransferIsConfirmedBack(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	g := f.gens["44"]
	tr := g.Transfer()
	res := f.sendDelivered("51", tr)
	origin := f.system("51")

	c := g.Confirmation(tr)
	conf := f.submit("44", c)
	if conf[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("confirmation: %+v", conf[0])
	}
	var v exchange.RecordView
	gatewaytest.Eventually(t, "51 to show the confirmation on the transfer", func() bool {
		var err error
		v, err = origin.Record(ctx, res[0].EnvelopeID)
		return err == nil && v.Confirmed != nil
	})
	got := v.Confirmed
	if got.Employed != c.Employed || got.MonthsEmployed != c.MonthsEmployed || got.ConfirmedOn != c.ConfirmedOn.String() || got.EnvelopeID != conf[0].EnvelopeID {
		t.Errorf("confirmed: employed %v for %d months on %s by envelope %s; want %v for %d months on %s by envelope %s",
			got.Employed, got.MonthsEmployed, got.ConfirmedOn, got.EnvelopeID, c.Employed, c.MonthsEmployed, c.ConfirmedOn, conf[0].EnvelopeID)
	}
	if len(v.Confirmed.Receipt) == 0 {
		t.Fatal("the transfer shows no receipt from 44")
	}
	r := receiptOf(t, v.Confirmed.Receipt)
	if r.EnvelopeID != res[0].EnvelopeID || r.Status != contracts.ReceiptStored {
		t.Errorf("receipt: %+v; want %s stored", r, res[0].EnvelopeID)
	}
	if err := r.Verify(f.nodeCert("44").PublicKey); err != nil {
		t.Errorf("the receipt does not verify with 44's node key: %v", err)
	}
}
