package exchange

import (
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

type dropDeadline struct{}

func (dropDeadline) CanonicalEdits() map[string]*contracts.Edits {
	return map[string]*contracts.Edits{"deadline": {Drop: true}}
}
func (d dropDeadline) ApplyCanonical(c []byte) ([]byte, error) {
	return contracts.EditCanonicalJSON(c, d.CanonicalEdits())
}

// A referral whose payload has no deadline (an export obligation dropped
// it, or an older origin) is stored with no due day: its received entry's
// due was "0000-00-00", which the audit log refuses, so it was deferred as
// this node's fault, for its origin to send for ever; and its case would
// have been overdue at once. (From a review.)
func TestAReferralWithoutADeadlineIsStoredWithoutOne(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51", "44")
			f.agreement("51", "44")
			g := f.generator("51", "44", 7)
			r := referralFrom(g, "51")
			env, err := contracts.NewEnvelopeEdited(r, 1, f.now, dropDeadline{})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(f.sign("51", env))
			res, err := f.deliver("51", "44", raw)
			if err != nil {
				t.Fatalf("delivery failed whole: %v", err)
			}
			if res[0].Status != peer.StatusStored {
				t.Fatalf("referral without a deadline: %s %v; want it stored", res[0].Status, res[0].Reasons)
			}
			c, err := f.nodes["44"].store.Case(store.CaseKey("51", "44", r.ID), f.now)
			if err != nil || c.Deadline != "" || c.Overdue {
				t.Errorf("its case: %+v, %v; want no deadline and not overdue", c, err)
			}
		})
	}
}
