package exchange

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/peer"
)

// TestARefusalNotAuditedFailsTheDelivery: a peer's envelope refused for
// good is not sent again, so its refusal's entry is written before the
// answer that rejects it goes back. When it cannot be (the log's write
// fails), the delivery fails whole, unavailable, rejecting nothing, and
// its origin sends it again: then the envelope is rejected and its
// refusal audited, once; the envelope stored beside it is a duplicate.
func TestARefusalNotAuditedFailsTheDelivery(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f, log := refusingAt44(t, mode, false)
			good, refused := refusedBeside(t, f)
			refusals := func() int { return countEntries(t, f.nodes["44"], audit.KindDenied, refused.ID) }

			log.on.Store(true)
			if res, err := f.deliver("51", "44", good, marshalEnvelope(t, refused)); ErrorCode(err) != CodeUnavailable {
				t.Fatalf("the delivery whose refusal the log could not write: %d results, error %v; want it failed unavailable", len(res), err)
			}
			if n := refusals(); n != 0 {
				t.Fatalf("%d refusal entries after the delivery failed, want none", n)
			}

			log.on.Store(false)
			res, err := f.deliver("51", "44", good, marshalEnvelope(t, refused))
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != peer.StatusDuplicate {
				t.Errorf("the good envelope sent again: %+v, want %s", res[0], peer.StatusDuplicate)
			}
			if res[1].Status != peer.StatusRejected || !slices.Equal(res[1].Reasons, []string{ReasonWrongDest}) {
				t.Errorf("the refused envelope sent again: %+v, want %s [%s]", res[1], peer.StatusRejected, ReasonWrongDest)
			}
			if n := refusals(); n != 1 {
				t.Errorf("%d refusal entries once the delivery went through, want 1", n)
			}
		})
	}
}

// TestARefusalTheLogRefusesIsDeferred: a refusal whose entry the audit log
// refuses even without its bad identifiers (a fault of this node) is not
// answered rejected, final, without its entry: the envelope is deferred
// audit_error, as one whose received entry the log refuses, and the rest
// of the delivery goes through.
func TestARefusalTheLogRefusesIsDeferred(t *testing.T) {
	f, log := refusingAt44(t, auditInStore, true)
	good, refused := refusedBeside(t, f)
	log.on.Store(true)
	res, err := f.deliver("51", "44", good, marshalEnvelope(t, refused), marshalEnvelope(t, refused))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != peer.StatusDuplicate {
		t.Errorf("the good envelope: %+v, want %s", res[0], peer.StatusDuplicate)
	}
	for i, r := range res[1:] {
		if r.Status != peer.StatusDeferred || !slices.Equal(r.Reasons, []string{"audit_error"}) {
			t.Errorf("copy %d of the envelope whose refusal the log refuses: %+v, want %s [audit_error]", i, r, peer.StatusDeferred)
		}
	}
	if n := countEntries(t, f.nodes["44"], audit.KindDenied, refused.ID); n != 0 {
		t.Errorf("%d refusal entries, want none", n)
	}
}

// refusingAt44 is a federation of 51 and 44, 44's audit log placed by mode
// and wrapped in a refusesDenials (entry as given, off).
func refusingAt44(t *testing.T, mode auditMode, entry bool) (*federation, *refusesDenials) {
	t.Helper()
	f := newFederationWith(t, mode, 0, "51", "44")
	f.agreement("51", "44")
	var log *refusesDenials
	f.restartAudited("44", func(a Auditor) Auditor {
		log = &refusesDenials{TxAuditor: a.(TxAuditor), entry: entry}
		return log
	})
	return f, log
}

// refusedBeside returns an envelope 44 stores, stored already, and one
// from 51 addressed to another province, which 44 refuses for good.
func refusedBeside(t *testing.T, f *federation) (json.RawMessage, *contracts.Envelope) {
	t.Helper()
	g := f.generator("51", "44", 43)
	good := f.rawSignedBy("51", g.Transfer())
	if res, err := f.deliver("51", "44", good); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("the good envelope: %+v, %v", res, err)
	}
	env, err := contracts.NewEnvelope(g.Transfer(), 1, f.now)
	if err != nil {
		t.Fatal(err)
	}
	env.Destination = "33"
	return good, f.sign("51", env)
}

// countEntries counts n's audit entries of kind for envelope id.
func countEntries(t *testing.T, n *node, kind audit.Kind, id string) int {
	t.Helper()
	c := 0
	for _, e := range n.auditEntries(t) {
		if e.Kind == kind && e.EnvelopeID == id {
			c++
		}
	}
	return c
}
