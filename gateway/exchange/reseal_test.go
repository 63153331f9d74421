package exchange

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestAQueuedEnvelopeGoesUnderTheNodeThatSendsIt: an envelope queued to be
// signed with its delivery batch names its signer when it is sealed. A
// node that starts again under another identity (a new node name takes a
// restart) with envelopes still queued signs them with the new key, and
// the destination refuses for good, as forged, an envelope whose signer
// is not the chain it comes with: each is sent naming the node that signs
// it, and delivered.
func TestAQueuedEnvelopeGoesUnderTheNodeThatSendsIt(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	origin, dest := f.nodes["51"], f.nodes["44"]
	dest.server.Close() // 44 is down: 51 keeps what it accepts queued
	res := f.submit("51", f.generator("51", "44", 63).Transfer())
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("submit = %+v", res[0])
	}
	// 51's node starts again as gw-2, over the same store.
	origin.delivery.Close()
	queued, err := origin.store.Pending("44", 10, nil)
	if err != nil || len(queued) != 1 {
		t.Fatalf("51's queue for 44: %d envelopes, %v; want the one accepted", len(queued), err)
	}
	if !sealedBy(queued[0].Envelope, origin.leaf.Identity.URI()) {
		// Sealed again at every send otherwise, decoded and encoded anew.
		t.Errorf("the queued envelope is not seen sealed by %s, which sealed it", origin.leaf.Identity.URI())
	}
	origin.x.d.Signer = f.pki.Signer(f.pki.Issue("51", pki.KindNode, "gw-2"))
	v := resumeDelivery(t, f, res[0].EnvelopeID)
	if v.State != store.StateDelivered {
		t.Fatalf("the record queued before the restart is %s %v; want delivered", v.State, v.Reasons)
	}
}

// TestAnEnvelopeSignedAloneGoesWithTheChainItIsSentWith: an envelope
// queued signed alone (by a release before batch signing) carries the
// signature of the key the node had when it was accepted. The node's
// certificate rotates while it waits, and each batch goes with the chain of
// the key of the day: the destination would refuse that envelope for good
// as forged. It is sent in the batch instead, and delivered.
func TestAnEnvelopeSignedAloneGoesWithTheChainItIsSentWith(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	origin, dest := f.nodes["51"], f.nodes["44"]
	dest.server.Close() // 44 is down: 51 keeps what it accepts queued
	origin.x.batchSign.Store(false)
	res := f.submit("51", f.generator("51", "44", 64).Transfer())
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("submit = %+v", res[0])
	}
	origin.delivery.Close()
	queued, err := origin.store.Pending("44", 10, nil)
	if err != nil || len(queued) != 1 || queued[0].SigningDigest != nil {
		t.Fatalf("51's queue for 44: %d envelopes, %v; want the one accepted, signed alone", len(queued), err)
	}

	// 51's node certificate rotates, under the same name, with a new key.
	rotated := f.pki.Issue("51", pki.KindNode, "gw-1")
	signer := f.pki.Signer(rotated)
	origin.x.d.Signer = signer
	origin.client = peer.NewClient(f.pki.Verifier(), func() [][]byte { return chainDER(signer) }, f.dir, func(p string) (*http.Client, error) {
		return f.pki.Client(rotated, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: p}), nil
	}, peer.BreakerSettings{Failures: 3, Open: 100 * time.Millisecond})
	v := resumeDelivery(t, f, res[0].EnvelopeID)
	if v.State != store.StateDelivered {
		t.Fatalf("the record signed alone before the rotation is %s %v; want delivered", v.State, v.Reasons)
	}
}

// resumeDelivery starts 51's delivery again, as its node would at a
// restart, and 44's server, which was down, and returns what became of
// the envelope 51 queued for 44 once 44 answered.
func resumeDelivery(t *testing.T, f *federation, envelopeID string) RecordView {
	t.Helper()
	origin, dest := f.nodes["51"], f.nodes["44"]
	cfg := delivery.Config{BatchSize: 50, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Idle: 50 * time.Millisecond, Refusal: peer.Refusal}
	m, err := delivery.NewManager(cfg, origin.x.Outbox(), origin.x.BatchSender(origin.client), origin.x, slog.New(slog.NewJSONHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	origin.delivery = m
	dest.server = f.pki.Serve(dest.leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}, peer.NewHandler(dest.x))
	f.dir.set("44", dest.server.URL)
	m.Notify("44")

	var v RecordView
	gatewaytest.Eventually(t, "44's answer", func() bool {
		v, err = origin.x.Record(context.Background(), origin.system, envelopeID)
		return err == nil && v.State != store.StateAccepted
	})
	return v
}
