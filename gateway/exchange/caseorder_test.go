package exchange

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestReceiveTakesUpdatesOfOneCaseInTheirOrder: the province a case was
// referred to accepts it, then investigates it, in two submissions its
// node checks one after the other; queued while the opener was out of
// reach, both leave in one delivery. Each is checked against the case as
// the updates before it in the request leave it, as the commit stores
// them, so both move the case; the second is not rejected for good as a
// move from referred. One whose earlier update of the case in the request
// is deferred is deferred with it, not rejected: sent again in order, it
// moves the case.
func TestReceiveTakesUpdatesOfOneCaseInTheirOrder(t *testing.T) {
	rc := newReceivedCases(t, 2)
	dest := rc.f.nodes["44"]
	caseOf := func(i int) *store.Case {
		t.Helper()
		c, err := dest.store.Case(store.CaseKey("51", "44", rc.cases[i].ID), rc.f.now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	res := rc.receive(t, rc.update(t, 0, contracts.CaseAccepted), rc.update(t, 0, contracts.CaseInvestigating))
	for i, r := range res {
		if r.Status != peer.StatusStored || len(r.Receipt) == 0 {
			t.Errorf("update %d of case 0: %s %v, want %s with a receipt", i, r.Status, r.Reasons, peer.StatusStored)
		}
	}
	if c := caseOf(0); c.Status != string(contracts.CaseInvestigating) || len(c.Updates) != 2 {
		t.Errorf("case 0: %s with %d updates, want %s with 2", c.Status, len(c.Updates), contracts.CaseInvestigating)
	}

	// Sealed ahead of 44's clock, the acceptance waits for its time.
	u := rc.g.ReferralUpdate(rc.cases[1])
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	env, err := contracts.NewEnvelope(u, 1, rc.f.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ahead, err := json.Marshal(rc.f.sign("51", env))
	if err != nil {
		t.Fatal(err)
	}
	investigating := rc.update(t, 1, contracts.CaseInvestigating)
	res = rc.receive(t, ahead, investigating)
	if r := res[0]; r.Status != peer.StatusDeferred || !slices.Equal(r.Reasons, []string{ReasonSealedAhead}) {
		t.Errorf("the acceptance sealed ahead: %s %v, want %s [%s]", r.Status, r.Reasons, peer.StatusDeferred, ReasonSealedAhead)
	}
	if r := res[1]; r.Status != peer.StatusDeferred || r.Receipt != nil {
		t.Errorf("the investigation after a deferred acceptance: %s %v, want %s and no receipt", r.Status, r.Reasons, peer.StatusDeferred)
	}
	if c := caseOf(1); c.Status != string(contracts.CaseReferred) || len(c.Updates) != 0 {
		t.Errorf("case 1 after the deferral: %s with %d updates, want it referred", c.Status, len(c.Updates))
	}
	res = rc.receive(t, rc.update(t, 1, contracts.CaseAccepted), investigating)
	for i, r := range res {
		if r.Status != peer.StatusStored {
			t.Errorf("update %d of case 1 sent again: %s %v, want %s", i, r.Status, r.Reasons, peer.StatusStored)
		}
	}
	if c := caseOf(1); c.Status != string(contracts.CaseInvestigating) || len(c.Updates) != 2 {
		t.Errorf("case 1: %s with %d updates, want %s with 2", c.Status, len(c.Updates), contracts.CaseInvestigating)
	}
}
