package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// deliverAsking is deliver from an origin that asks for receipts bound
// to the whole envelope, as this release's peer client does.
func (f *federation) deliverAsking(from, to string, envs ...json.RawMessage) ([]peer.Result, error) {
	return f.deliverIn(peer.WithReceiptBinding(context.Background()), from, to, envs...)
}

// boundEnvelopes are three transfers from 33 to 44: one signed alone and
// two signed in a batch, as they travel.
func boundEnvelopes(t *testing.T, f *federation, seed uint64) ([]*contracts.Envelope, []json.RawMessage) {
	t.Helper()
	g := f.generator("33", "44", seed)
	alone := f.signedBy("33", g.Transfer())
	var batch []*contracts.Envelope
	for range 2 {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, f.now)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, env)
	}
	signer := f.nodes["33"].x.d.Signer
	if err := contracts.SignBatch(batch, signer, signer.Identity().URI()); err != nil {
		t.Fatal(err)
	}
	envs := append([]*contracts.Envelope{alone}, batch...)
	raws := make([]json.RawMessage, len(envs))
	for i, env := range envs {
		raws[i] = marshalEnvelope(t, env)
	}
	return envs, raws
}

// TestReceiptsBindTheEnvelopeForOriginsThatAsk: a destination asked for
// bound receipts answers each envelope, stored or redelivered, signed
// alone or in a batch, with a receipt whose envelope digest is the
// envelope's signing digest: it matches that envelope and not another of
// the same id and payload under another agreement version.
func TestReceiptsBindTheEnvelopeForOriginsThatAsk(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	dest := f.nodes["44"]
	envs, raws := boundEnvelopes(t, f, 41)
	for _, want := range []peer.Status{peer.StatusStored, peer.StatusDuplicate} {
		res, err := f.deliverAsking("33", "44", raws...)
		if err != nil {
			t.Fatal(err)
		}
		for i, env := range envs {
			if res[i].Status != want {
				t.Fatalf("%s answered %s %v, want %s", env.ID, res[i].Status, res[i].Reasons, want)
			}
			rc, err := contracts.DecodeReceipt(res[i].Receipt)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil {
				t.Fatal(err)
			}
			d, err := env.SigningDigest()
			if err != nil {
				t.Fatal(err)
			}
			if rc.EnvelopeDigest != contracts.FormatDigest(d) || !rc.Matches(env) {
				t.Errorf("%s receipt for %s binds %q, want %s", want, env.ID, rc.EnvelopeDigest, contracts.FormatDigest(d))
			}
			other := *env
			other.AgreementVersion++
			if rc.Matches(&other) {
				t.Errorf("%s receipt for %s matches the envelope of another agreement version", want, env.ID)
			}
		}
	}
}

// earlierReceipt is a receipt as releases before envelope digests read
// it: strictly, without the member.
type earlierReceipt struct {
	EnvelopeID    string                `json:"envelope_id"`
	PayloadDigest string                `json:"payload_digest"`
	Receiver      string                `json:"receiver"`
	Status        string                `json:"status"`
	Reason        string                `json:"reason,omitempty"`
	ReceivedAt    time.Time             `json:"received_at"`
	Signature     []byte                `json:"signature,omitempty"`
	Batch         *contracts.BatchProof `json:"batch,omitempty"`
}

// TestOlderOriginsGetReceiptsTheyRead: a destination not asked for bound
// receipts (an origin of an earlier release, which sends no
// Laborlink-Receipt-Binding) answers without envelope_digest, stored or
// redelivered, also for an envelope it first answered with a bound
// receipt: such an origin's strict decoder reads every receipt, which
// verifies and matches its envelope.
func TestOlderOriginsGetReceiptsTheyRead(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	dest := f.nodes["44"]
	envs, raws := boundEnvelopes(t, f, 43)
	// The first stored for an origin that asked, before its node went
	// back to the earlier release.
	if res, err := f.deliverAsking("33", "44", raws[0]); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	for _, round := range []string{"first", "again"} {
		res, err := f.deliver("33", "44", raws...)
		if err != nil {
			t.Fatal(err)
		}
		for i, env := range envs {
			if res[i].Status != peer.StatusStored && res[i].Status != peer.StatusDuplicate {
				t.Fatalf("%s: %s answered %s %v", round, env.ID, res[i].Status, res[i].Reasons)
			}
			if bytes.Contains(res[i].Receipt, []byte("envelope_digest")) {
				t.Errorf("%s: the receipt for %s names envelope_digest: %s", round, env.ID, res[i].Receipt)
			}
			dec := json.NewDecoder(bytes.NewReader(res[i].Receipt))
			dec.DisallowUnknownFields()
			var old earlierReceipt
			if err := dec.Decode(&old); err != nil || old.EnvelopeID != env.ID || old.PayloadDigest != env.PayloadDigest {
				t.Errorf("%s: an earlier release reads the receipt for %s as %+v, %v", round, env.ID, old, err)
			}
			rc, err := contracts.DecodeReceipt(res[i].Receipt)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil || !rc.Matches(env) {
				t.Errorf("%s: receipt for %s: %v, matches %v", round, env.ID, err, rc.Matches(env))
			}
		}
	}
}

// TestDeliveredRecordsKeepBoundReceipts: over the peer API, this
// release's origin asks for bound receipts and keeps the one its
// destination signed for the envelope it sent.
func TestDeliveredRecordsKeepBoundReceipts(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 47)
	res := f.submit("51", g.Transfer())
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("submit = %+v", res[0])
	}
	origin, dest := f.nodes["51"], f.nodes["44"]
	var st store.Status
	gatewaytest.Eventually(t, "the receipt at 51", func() bool {
		var err error
		st, err = origin.store.Status(res[0].EnvelopeID)
		return err == nil && st.State == store.StateDelivered
	})
	rc, err := contracts.DecodeReceipt(st.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	in := dest.inbox(t)
	if len(in) != 1 {
		t.Fatalf("44's inbox holds %d entries", len(in))
	}
	env, err := contracts.DecodeEnvelope(in[0].Envelope)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rc.EnvelopeDigest, "sha256:") || !rc.Matches(env) {
		t.Errorf("51 keeps a receipt binding %q for %s; want it bound to the envelope 44 stored", rc.EnvelopeDigest, env.ID)
	}
	if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil {
		t.Error(err)
	}
}

// TestRedeliveryUnderANewNameIsADuplicate: an envelope stored with a
// receipt bound to it, sealed again since under the name its origin's
// node goes by now (batchSender reseals it so), is the envelope stored:
// answered "duplicate", with a receipt bound to the envelope as it came
// this time, not refused as another envelope under its id.
func TestRedeliveryUnderANewNameIsADuplicate(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	env := f.signedBy("33", f.generator("33", "44", 53).Transfer())
	if res, err := f.deliverAsking("33", "44", marshalEnvelope(t, env)); err != nil || res[0].Status != peer.StatusStored {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	renamed := f.pki.Signer(f.pki.Issue("33", pki.KindNode, "gw-2"))
	again := *env
	if err := again.Sign(renamed, renamed.Identity().URI()); err != nil {
		t.Fatal(err)
	}
	ctx := peer.WithReceiptBinding(context.Background())
	resp, err := f.nodes["44"].x.Receive(ctx, renamed.Identity(), renamed.Chain(), []json.RawMessage{marshalEnvelope(t, &again)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Results[0]
	if r.Status != peer.StatusDuplicate {
		t.Fatalf("the envelope sealed again answered %s %v, want %s", r.Status, r.Reasons, peer.StatusDuplicate)
	}
	rc, err := contracts.DecodeReceipt(r.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.Matches(&again) || rc.Matches(env) {
		t.Errorf("the duplicate's receipt binds %q: want the envelope as it came again, not as first stored", rc.EnvelopeDigest)
	}
}

// TestCopiesOfAnotherHeaderInOneRequestAreRefused: two envelopes of one
// id and payload in one request that differ in a header (the agreement
// version) are not copies of one envelope: the first is stored and the
// other refused as reusing its id, rather than answered "duplicate" with
// a receipt bound to an envelope that was never stored.
func TestCopiesOfAnotherHeaderInOneRequestAreRefused(t *testing.T) {
	f := newFederation(t, "33", "44")
	f.agreement("33", "44")
	env := f.signedBy("33", f.generator("33", "44", 59).Transfer())
	other := *env
	other.AgreementVersion++
	f.sign("33", &other)
	res, err := f.deliverAsking("33", "44", marshalEnvelope(t, env), marshalEnvelope(t, &other), marshalEnvelope(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != peer.StatusStored || res[2].Status != peer.StatusDuplicate {
		t.Errorf("the envelope and its copy answered %s and %s, want %s and %s", res[0].Status, res[2].Status, peer.StatusStored, peer.StatusDuplicate)
	}
	if r := res[1]; r.Status != peer.StatusRejected || len(r.Reasons) != 1 || r.Reasons[0] != ReasonEnvelopeIDReused || r.Receipt != nil {
		t.Errorf("the envelope of another agreement version answered %s %v (receipt %s), want %s [%s] without a receipt", r.Status, r.Reasons, r.Receipt, peer.StatusRejected, ReasonEnvelopeIDReused)
	}
}
