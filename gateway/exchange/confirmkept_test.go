package exchange

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
)

// TestAConfirmationIsListedAsItsImportLeftIt: under an agreement whose
// confirmation rule leaves out since and months_employed, the import
// decision drops them from a confirmation whose origin did not (a
// dishonest or older node), and the inbox item's record has neither; but
// the transfer the confirmation answers listed both in its summary, read
// from the confirmation as it arrived, for the submitting system to see.
// (From a review.) The summary is now made from the record as the import
// obligations left it, in the commit that stores it and when a redelivery
// links it.
func TestAConfirmationIsListedAsItsImportLeftIt(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", func(a *contracts.Agreement) {
		for i := range a.Scope {
			if a.Scope[i].RecordType == contracts.RecordConfirmation {
				a.Scope[i].Fields = slices.DeleteFunc(a.Scope[i].Fields, func(f string) bool {
					return f == "since" || f == "months_employed"
				})
			}
		}
	})
	g := f.generator("51", "44", 33)
	tr := g.Transfer()
	// Employed since a month before the contract's first day, which the
	// summary would flag as well.
	confirmation := func() *contracts.Confirmation {
		c := g.Confirmation(tr)
		since := tr.Placement.ContractStart.AddMonths(-1)
		c.Employed, c.Since, c.MonthsEmployed, c.Reason = true, &since, 1, ""
		return c
	}
	// Signed by 44 directly: its export obligations not applied.
	early, late := confirmation(), confirmation()
	earlyEnv, lateEnv := f.rawSignedBy("44", early), f.rawSignedBy("44", late)
	// Before the transfer is known here: stored, linked when sent again.
	if got, err := f.deliver("44", "51", earlyEnv); err != nil || got[0].Status != peer.StatusStored {
		t.Fatalf("confirmation before its transfer: %+v, %v", got, err)
	}
	res := f.submit("51", tr)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("transfer: %+v", res[0])
	}
	origin := f.nodes["51"]
	f.awaitDelivered("51", res[0].EnvelopeID)
	if got, err := f.deliver("44", "51", lateEnv); err != nil || got[0].Status != peer.StatusStored {
		t.Fatalf("confirmation: %+v, %v", got, err)
	}
	if got, err := f.deliver("44", "51", earlyEnv); err != nil || got[0].Status != peer.StatusDuplicate {
		t.Fatalf("confirmation sent again: %+v, %v", got, err)
	}
	for _, it := range origin.inbox(t) {
		if bytes.Contains(it.Record, []byte(`"since"`)) || bytes.Contains(it.Record, []byte(`"months_employed"`)) {
			t.Fatalf("the inbox item %s holds what the import drops: %s", it.EnvelopeID, it.Record)
		}
	}
	st, err := origin.store.Status(res[0].EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Answers) != 2 {
		t.Fatalf("the transfer lists %d answers, want both confirmations", len(st.Answers))
	}
	for _, a := range st.Answers {
		var s Confirmed
		if err := json.Unmarshal(a.Summary, &s); err != nil {
			t.Fatal(err)
		}
		if s.Since != "" || s.MonthsEmployed != 0 || s.SinceBeforeContractStart {
			t.Errorf("the transfer lists confirmation %s with %s; the import dropped since and months_employed", a.EnvelopeID, a.Summary)
		}
	}
}
