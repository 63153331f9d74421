package exchange

import (
	"context"
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

// TestSubmitWithAnUnreadableCaseIsANodeFault: when the cases a submission's
// updates move cannot be read, the submission fails as the node's fault
// and nothing of it is accepted; the update is not told its referral is
// unknown.
func TestSubmitWithAnUnreadableCaseIsANodeFault(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 31)
	cases := f.referCases(g, 1)
	origin := f.nodes["51"]
	key := store.CaseKey("51", "44", cases[0].ID)
	spoilCase(t, origin.store, key)
	u := g.ReferralUpdate(cases[0])
	u.From, u.To, u.Status = "51", "44", contracts.CaseAccepted
	transfer := g.Transfer()

	_, err := origin.x.Submit(context.Background(), origin.system, encode(t, transfer, u))
	var xe *Error
	if !errors.As(err, &xe) || xe.Code != CodeUnavailable || !strings.Contains(err.Error(), key) {
		t.Fatalf("submit with an unreadable case: %v, want a %s error naming %s", err, CodeUnavailable, key)
	}
	if id, err := origin.store.Lookup(Ref(transfer.Head(), transfer.Type())); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the transfer submitted with it was accepted as %q (%v); want nothing accepted", id, err)
	}
}

// TestReceiveDefersUpdatesWhoseCasesCannotBeRead: when the destination
// cannot read the cases a delivery's updates move, it defers those updates,
// which the origin sends again, and stores the rest.
func TestReceiveDefersUpdatesWhoseCasesCannotBeRead(t *testing.T) {
	rc := newReceivedCases(t, 2)
	dest := rc.f.nodes["44"]
	spoilCase(t, dest.store, store.CaseKey("51", "44", rc.cases[0].ID))
	results := rc.receive(t, rc.update(t, 0, contracts.CaseAccepted), rc.seal(t, rc.g.Transfer()), rc.update(t, 1, contracts.CaseAccepted))
	for i, want := range []peer.Status{peer.StatusDeferred, peer.StatusStored, peer.StatusDeferred} {
		if results[i].Status != want {
			t.Errorf("envelope %d: %+v, want %s", i, results[i], want)
		} else if want == peer.StatusDeferred && (len(results[i].Reasons) != 1 || results[i].Reasons[0] != "case_unreadable") {
			t.Errorf("envelope %d: reasons %v, want [case_unreadable]", i, results[i].Reasons)
		}
	}
	c, err := dest.store.Case(store.CaseKey("51", "44", rc.cases[1].ID), rc.f.now)
	if err != nil || c.Status != string(contracts.CaseReferred) {
		t.Fatalf("case 1, whose update was deferred: %+v, %v; want it still referred", c, err)
	}
}
