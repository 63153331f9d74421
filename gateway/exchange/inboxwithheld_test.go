package exchange

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestTheInboxWithholdsAPayloadItsImportEdited: the destination's import
// decision masks the phone in the record it stores, but the inbox item
// kept the envelope exactly as it arrived, phone in clear, for the
// business system to read through the inbox and the webhook. (From a
// review.) An envelope whose payload the import obligations edited is now
// kept with its payload withheld, its digest and signature as signed; one
// they leave as it came is kept whole.
func TestTheInboxWithholdsAPayloadItsImportEdited(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", func(a *contracts.Agreement) {
		for i := range a.Scope {
			a.Scope[i].Clear = nil // the phone is masked, on export and on import
		}
	})
	g := f.generator("51", "44", 1)
	unmasked, masked := g.Transfer(), g.Transfer()
	unmasked.Worker.Phone = "13812345678"
	// Signed by 51 directly, as a dishonest or older origin would send it:
	// its export obligations not applied.
	raw := f.rawSignedBy("51", unmasked)
	if _, err := f.deliver("51", "44", raw); err != nil {
		t.Fatal(err)
	}
	// Submitted at 51: masked on export, so the import edits nothing.
	if res := f.submit("51", masked); res[0].Outcome != OutcomeAccepted {
		t.Fatal(res[0])
	}
	var items []store.Incoming
	gatewaytest.Eventually(t, "both in 44's inbox", func() bool {
		items = f.nodes["44"].inbox(t)
		return len(items) == 2
	})
	edited, whole := items[0], items[1]
	if bytes.Contains(edited.Record, []byte("13812345678")) {
		t.Fatalf("the record holds the phone: %s", edited.Record)
	}
	if bytes.Contains(edited.Envelope, []byte("13812345678")) {
		t.Errorf("the inbox item's envelope holds the phone the import decision masks: %s", edited.Envelope)
	}
	var got, sent struct {
		Payload       json.RawMessage `json:"payload"`
		PayloadDigest string          `json:"payload_digest"`
		Signature     []byte          `json:"signature"`
	}
	if err := json.Unmarshal(edited.Envelope, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sent); err != nil {
		t.Fatal(err)
	}
	if string(got.Payload) != "null" || got.PayloadDigest != sent.PayloadDigest || !bytes.Equal(got.Signature, sent.Signature) {
		t.Errorf("envelope kept %s; want its payload null, and the digest and signature it was signed with", edited.Envelope)
	}
	var kept struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(whole.Envelope, &kept); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept.Payload, whole.Record) {
		t.Errorf("an envelope the import left as it came is kept with payload %s; want the record as it arrived, %s", kept.Payload, whole.Record)
	}
}
