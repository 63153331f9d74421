package exchange

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestAnEnvelopeThatCannotTakeItsProofIsDeadLettered: an envelope queued to
// be signed with its batch whose stored bytes cannot take a batch proof is
// refused by the node's own sender, before the request is written, as
// unsendable. It becomes a dead letter without a status from the peer, and
// the good record of its batch is delivered.
func TestAnEnvelopeThatCannotTakeItsProofIsDeadLettered(t *testing.T) {
	f := newFederationWith(t, auditInStore, 0, "51", "44")
	f.agreement("51", "44")
	origin := f.nodes["51"]
	const bad = "01A0000000000000000000PRF0"
	if _, err := origin.store.Enqueue(context.Background(), []store.Outgoing{{EnvelopeID: bad, Ref: "51/transfer/T-NOPROOF", Type: "transfer", Peer: "44", Envelope: []byte(`{"id":"` + bad + `","trunc`), SigningDigest: bytes.Repeat([]byte{7}, 32)}}); err != nil {
		t.Fatal(err)
	}
	g := f.generator("51", "44", 5)
	res := f.submit("51", g.Transfer())
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return origin.store.Depth()["44"] == 0 })

	if v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID); err != nil || v.State != store.StateDelivered {
		t.Errorf("the good record: %+v, %v", v, err)
	}
	dead, err := origin.store.DeadLetters("44")
	if err != nil || len(dead) != 1 || dead[0].EnvelopeID != bad || dead[0].Status != 0 || !strings.Contains(dead[0].Reason, "not an unsigned envelope object") {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
}
