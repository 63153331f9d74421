package exchange

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	bolt "go.etcd.io/bbolt"
)

// spoilCase writes bytes that do not decode over the stored case key, as a
// damaged file would hold them.
func spoilCase(t *testing.T, s *store.Store, key string) {
	t.Helper()
	err := s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("cases")).Put([]byte(key), []byte(`{"key":`))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSubmitRefusesOnlyTheUpdatesOfAnUnreadableCase: an update whose case
// does not decode is answered unavailable, the node's fault, with the
// cause logged for the operator; the update of a healthy case and the
// transfer submitted with it are accepted, and neither update is told its
// referral is unknown. The updates are 51's answers to 44's referrals.
func TestSubmitRefusesOnlyTheUpdatesOfAnUnreadableCase(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 31)
	cases := f.referCasesFrom(g, "44", 2)
	f.awaitCases("51", cases)
	origin := f.nodes["51"]
	spoiled := store.CaseKey("51", "44", cases[0].ID)
	spoilCase(t, origin.store, spoiled)
	update := func(i int) *contracts.ReferralUpdate {
		u := g.ReferralUpdate(cases[i])
		u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
		return u
	}
	spoiledUpdate := update(0)

	results := f.submit("51", spoiledUpdate, g.Transfer(), update(1))
	if r := results[0]; r.Outcome != OutcomeUnavailable || r.Error == "" || r.EnvelopeID != "" || r.Problems != nil {
		t.Errorf("the update of the unreadable case: %+v, want %s with an error and nothing else", r, OutcomeUnavailable)
	}
	if id, err := origin.store.Lookup(Ref(spoiledUpdate.Head(), spoiledUpdate.Type())); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the update of the unreadable case was queued as %q (%v); want nothing queued", id, err)
	}
	if r := results[1]; r.Outcome != OutcomeAccepted {
		t.Errorf("the transfer: %+v, want %s", r, OutcomeAccepted)
	}
	if r := results[2]; r.Outcome != OutcomeAccepted {
		t.Errorf("the update of the healthy case: %+v, want %s", r, OutcomeAccepted)
	}
	c, err := origin.store.Case(store.CaseKey("51", "44", cases[1].ID), f.now)
	if err != nil || c.Status != string(contracts.CaseAccepted) {
		t.Errorf("the healthy case: %+v, %v; want it accepted", c, err)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "refuse a referral update whose case is unreadable") || !strings.Contains(logs, spoiled) {
		t.Errorf("the logs do not say which case could not be read (%s):\n%s", spoiled, logs)
	}
}

// TestReceiveDefersOnlyTheUpdatesOfAnUnreadableCase: when the destination
// cannot decode the case an update of a delivery moves, it defers that
// update, which the origin sends again, and stores the rest: a transfer
// and the update of a healthy case, which moves it.
func TestReceiveDefersOnlyTheUpdatesOfAnUnreadableCase(t *testing.T) {
	rc := newReceivedCases(t, 2)
	dest := rc.f.nodes["44"]
	spoiled := store.CaseKey("51", "44", rc.cases[0].ID)
	spoilCase(t, dest.store, spoiled)
	// A forged update of the unreadable case is refused for its signature,
	// not deferred: only a verified signer learns the case is unreadable.
	u := rc.g.ReferralUpdate(rc.cases[0])
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	forged := rc.f.signedBy("51", u)
	forged.AgreementVersion++
	rawForged, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	results := rc.receive(t, rc.update(t, 0, contracts.CaseAccepted), rc.f.rawSignedBy("51", rc.g.Transfer()), rc.update(t, 1, contracts.CaseAccepted), rawForged)
	for i, want := range []struct {
		status peer.Status
		reason string
	}{{peer.StatusDeferred, "case_unreadable"}, {peer.StatusStored, ""}, {peer.StatusStored, ""}, {peer.StatusRejected, ReasonBadSignature}} {
		if results[i].Status != want.status {
			t.Errorf("envelope %d: %+v, want %s", i, results[i], want.status)
		} else if want.reason != "" && (len(results[i].Reasons) != 1 || results[i].Reasons[0] != want.reason) {
			t.Errorf("envelope %d: reasons %v, want [%s]", i, results[i].Reasons, want.reason)
		}
	}
	c, err := dest.store.Case(store.CaseKey("51", "44", rc.cases[1].ID), rc.f.now)
	if err != nil || c.Status != string(contracts.CaseAccepted) {
		t.Errorf("the healthy case, whose update was stored: %+v, %v; want it accepted", c, err)
	}
	if logs := rc.f.logs.String(); !strings.Contains(logs, "defer a referral update whose case is unreadable") || !strings.Contains(logs, spoiled) {
		t.Errorf("the logs do not say which case could not be read (%s):\n%s", spoiled, logs)
	}
}
