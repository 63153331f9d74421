package contracts_test

import (
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestHeaderDigestLeavesOutWhatSealingAgainChanges holds HeaderDigest to
// the generic canonical digest of the envelope without its payload, signer,
// signature and batch proof, and to changing with every other member.
func TestHeaderDigestLeavesOutWhatSealingAgainChanges(t *testing.T) {
	g := generator(t)
	for i := range 50 {
		env := sealed(t, g)
		env.Signer = signerURI
		got, err := env.HeaderDigest()
		if err != nil {
			t.Fatal(err)
		}
		header := *env
		header.Payload, header.Signer, header.Signature, header.Batch = json.RawMessage("null"), "", nil, nil
		want, err := contracts.Digest(&header)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("envelope %d: HeaderDigest differs from the generic digest of its header", i)
		}
		again := *env
		again.Signer, again.Signature, again.Batch = "spiffe://p44/node/gw-2", []byte{1}, &contracts.BatchProof{}
		if d, err := again.HeaderDigest(); err != nil || d != got {
			t.Fatalf("envelope %d sealed again: HeaderDigest %x, %v; want %x", i, d, err, got)
		}
		other := *env
		other.AgreementVersion++
		if d, err := other.HeaderDigest(); err != nil || d == got {
			t.Fatalf("envelope %d of another agreement version: HeaderDigest %x, %v; want another", i, d, err)
		}
	}
}
