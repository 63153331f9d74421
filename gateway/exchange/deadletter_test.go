package exchange

import (
	"context"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestACorruptEnvelopeIsDeadLetteredAndAudited: an envelope whose stored
// bytes are corrupt breaks its batch's body, and the destination refuses
// the batch with 400. The origin splits the batch: the good record is
// delivered, and the corrupt one becomes a dead letter with its record
// failed and a receipt entry denied in the audit log, written in the same
// commit when the log shares the store's file. An operator's requeue of it
// is audited as surely, by certificate serial; the destination refuses it
// again, beside a good record, and it is a dead letter once more.
func TestACorruptEnvelopeIsDeadLetteredAndAudited(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51", "44")
			const bad = "01A0000000000000000000CRPT"
			origin, g := deliverBesideBroken(t, f, bad, "51/transfer/T-CORRUPT", nil, 3)
			st, err := origin.store.Status(bad)
			if err != nil || st.State != store.StateFailed {
				t.Errorf("the corrupt record: %+v, %v", st, err)
			}
			dead, err := origin.store.DeadLetters("44")
			if err != nil || len(dead) != 1 || dead[0].EnvelopeID != bad || dead[0].Status != 400 {
				t.Fatalf("dead letters = %+v, %v", dead, err)
			}
			gatewaytest.Eventually(t, "the dead letter's audit entry", func() bool { return find(origin.auditEntries(t), audit.KindReceipt, bad) != nil })
			e := find(origin.auditEntries(t), audit.KindReceipt, bad)
			if e.Decision != audit.Deny || !slices.Equal(e.Reasons, []audit.Reason{audit.ReasonContractInvalid}) || e.Destination != "44" {
				t.Errorf("audit entry of the dead letter = %+v", e)
			}

			const serial = "5e71a1"
			if n, err := origin.x.Requeue(context.Background(), "44", store.DeadPick{EnvelopeID: bad}, serial); err != nil || n != 1 {
				t.Fatalf("requeue = %d, %v", n, err)
			}
			// No waiting: the entry is durable when Requeue returns.
			r := find(origin.auditEntries(t), audit.KindRequeue, bad)
			if r == nil || r.Serial != serial || r.Destination != "44" || r.Index <= e.Index {
				t.Fatalf("audit entry of the requeue = %+v, want one after the dead letter's, naming serial %s", r, serial)
			}
			// Sent alone, the destination's refusal would be of this node;
			// beside a good record, it is of the envelope.
			if res := f.submit("51", g.Transfer()); res[0].Outcome != OutcomeAccepted {
				t.Fatalf("the good record beside it: %+v", res[0])
			}
			gatewaytest.Eventually(t, "the requeued envelope to be refused again", func() bool {
				return origin.store.DeadLetterCounts()["44"] == 1 && origin.store.Depth()["44"] == 0
			})
			gatewaytest.Eventually(t, "the second dead letter's audit entry", func() bool {
				n := 0
				for _, e := range origin.auditEntries(t) {
					if e.Kind == audit.KindReceipt && e.EnvelopeID == bad && e.Index > r.Index {
						n++
					}
				}
				return n == 1
			})
			for _, n := range f.nodes {
				checkAuditClean(t, n)
			}
		})
	}
}

// deliverBesideBroken queues at f's node 51 an envelope bad for 44 whose
// stored bytes are cut short (queued to be signed with its batch when
// digest is not nil), submits a good record from the generator of seed
// beside it, and waits for 51's outbox to drain: the good record must be
// delivered. It returns node 51 and the generator.
func deliverBesideBroken(t *testing.T, f *federation, bad, ref string, digest []byte, seed uint64) (*node, *synth.Generator) {
	t.Helper()
	f.agreement("51", "44")
	origin := f.nodes["51"]
	out := store.Outgoing{EnvelopeID: bad, Ref: ref, Type: "transfer", Peer: "44"}
	if err := out.SetEnvelope(digest, func(b []byte) ([]byte, error) { return append(b, `{"id":"`+bad+`","trunc`...), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := origin.store.Enqueue(context.Background(), []store.Outgoing{out}); err != nil {
		t.Fatal(err)
	}
	g := f.generator("51", "44", seed)
	res := f.submit("51", g.Transfer())
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return origin.store.Depth()["44"] == 0 })

	if v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID); err != nil || v.State != store.StateDelivered {
		t.Errorf("the good record: %+v, %v", v, err)
	}
	return origin, g
}
