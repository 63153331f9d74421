package peer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestEncodeBatchMatchesDeliverRequest: a batch written with its proofs is
// the request a batch sender's copies with contracts.WithBatchProof made,
// byte for byte; an envelope that cannot take its proof is unsendable, and
// one queued unsigned without a proof is named.
func TestEncodeBatchMatchesDeliverRequest(t *testing.T) {
	digests, proofs := signedDigests(t, 4)
	unsigned := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"id":"0%d","type":"transfer","payload":{"a":"\"payload_digest\":"},"payload_digest":"sha256:%064d"}`, i, i))
	}
	signed := []byte(`{"id":"09","payload_digest":"sha256:0","signature":"AAE="}`)
	chain := [][]byte{[]byte("leaf"), []byte("root")}
	batch := []store.Queued{
		{EnvelopeID: "00", Envelope: unsigned(0), SigningDigest: digests[0][:]},
		{EnvelopeID: "09", Envelope: signed},
		{EnvelopeID: "01", Envelope: append(unsigned(1), '\n'), SigningDigest: digests[1][:]},
		{EnvelopeID: "02", Envelope: unsigned(2), SigningDigest: digests[2][:]},
	}
	byEnvelope := []*contracts.BatchProof{proofs[0], nil, proofs[1], proofs[2]}
	for name, chain := range map[string][][]byte{"chain": chain, "no chain": nil} {
		t.Run(name, func(t *testing.T) {
			want := DeliverRequest{Chain: chain, Envelopes: []json.RawMessage{}}
			for i, q := range batch {
				env := q.Envelope
				if byEnvelope[i] != nil {
					var err error
					if env, err = contracts.WithBatchProof(env, byEnvelope[i]); err != nil {
						t.Fatal(err)
					}
				}
				want.Envelopes = append(want.Envelopes, env)
			}
			body, first, err := encodeBatch(chain, batch, byEnvelope)
			got := body.bytes()
			if err != nil || first != -1 || !bytes.Equal(got, want.appendJSON(nil)) || body.size() != len(got) {
				t.Fatalf("(%d, %v)\n got %s\nwant %s", first, err, got, want.appendJSON(nil))
			}
			// A retried request reads the body again from its start.
			for range 2 {
				if read, err := io.ReadAll(body.reader()); err != nil || !bytes.Equal(read, got) {
					t.Fatalf("read %s (%v), want %s", read, err, got)
				}
			}
			plain := DeliverRequest{Chain: chain, Envelopes: []json.RawMessage{}}
			for _, q := range batch[1:2] {
				plain.Envelopes = append(plain.Envelopes, q.Envelope)
			}
			if body, first, err := encodeBatch(chain, batch[1:2], nil); err != nil || first != -1 || !bytes.Equal(body.bytes(), plain.appendJSON(nil)) {
				t.Fatalf("without proofs (%d, %v)\n got %s\nwant %s", first, err, body.bytes(), plain.appendJSON(nil))
			}
			if body, first, err := encodeBatch(chain, nil, nil); err != nil || first != -1 || !bytes.Equal(body.bytes(), DeliverRequest{Chain: chain, Envelopes: []json.RawMessage{}}.appendJSON(nil)) {
				t.Fatalf("empty (%d, %v): %s", first, err, body.bytes())
			}
		})
	}
	if _, first, err := encodeBatch(chain, batch, []*contracts.BatchProof{proofs[0], nil, nil, proofs[2]}); err != nil || first != 2 {
		t.Errorf("envelope 01 without its proof: first unsigned %d, %v", first, err)
	}
	if _, first, err := encodeBatch(chain, batch, nil); err != nil || first != 0 {
		t.Errorf("no proofs: first unsigned %d, %v", first, err)
	}
	for i, bad := range []*contracts.BatchProof{nil, proofs[1], proofs[3]} {
		b := append([]store.Queued(nil), batch...)
		ps := append([]*contracts.BatchProof(nil), byEnvelope...)
		switch i {
		case 0:
			b[2].Envelope = []byte(`{"id":"01","trunc`)
		case 1:
			b[2].Envelope = signed
		case 2:
			ps[1] = bad // a proof for an envelope signed alone
		}
		var unsendable *delivery.UnsendableError
		_, _, err := encodeBatch(chain, b, ps)
		if want := []string{"01", "01", "09"}[i]; !errors.As(err, &unsendable) || unsendable.EnvelopeID != want {
			t.Errorf("case %d: %v, want envelope %s unsendable", i, err, want)
		}
	}
}

// testKey is a new P-256 key to sign batches and receipts with.
func testKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// signedDigests returns n distinct signing digests (n at most 256) and
// their proofs, signed together under a new key, as an origin's batch
// sender makes them.
func signedDigests(tb testing.TB, n int) ([][32]byte, []*contracts.BatchProof) {
	tb.Helper()
	digests := make([][32]byte, n)
	for i := range digests {
		digests[i][0] = byte(i)
	}
	proofs, err := contracts.SignDigests(digests, testKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return digests, proofs
}

// bytes is the body in one slice, as a request sends it.
func (b deliverBody) bytes() []byte { return bytes.Join(b.parts, nil) }
