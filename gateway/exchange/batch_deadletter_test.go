package exchange

import (
	"bytes"
	"strings"
	"testing"
)

// TestAnEnvelopeThatCannotTakeItsProofIsDeadLettered: an envelope queued to
// be signed with its batch whose stored bytes cannot take a batch proof is
// refused by the node's own sender, before the request is written, as
// unsendable. It becomes a dead letter without a status from the peer, and
// the good record of its batch is delivered.
func TestAnEnvelopeThatCannotTakeItsProofIsDeadLettered(t *testing.T) {
	f := newFederationWith(t, auditInStore, 0, "51", "44")
	const bad = "01A0000000000000000000PRF0"
	origin, _ := deliverBesideBroken(t, f, bad, "51/transfer/T-NOPROOF", bytes.Repeat([]byte{7}, 32), 5)
	dead, err := origin.store.DeadLetters("44")
	if err != nil || len(dead) != 1 || dead[0].EnvelopeID != bad || dead[0].Status != 0 || !strings.Contains(dead[0].Reason, "not an unsigned envelope object") {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
}
