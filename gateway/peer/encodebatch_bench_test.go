package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// BenchmarkEncodeSignedBatch writes a request for 100 envelopes of ~2 KB
// queued unsigned, each with its batch proof, as an origin does for every
// batch it delivers.
func BenchmarkEncodeSignedBatch(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]store.Queued, 100)
	digests := make([][32]byte, len(batch))
	for i := range batch {
		digests[i][0], digests[i][1] = byte(i), 1
		env := fmt.Sprintf(`{"id":"01JABCDEFGHJKMNPQRSTVW%04d","type":"transfer","payload":{"pad":%q},"payload_digest":"sha256:%064d"}`, i, strings.Repeat("a", 1900), i)
		batch[i] = store.Queued{EnvelopeID: fmt.Sprint(i), Envelope: []byte(env), SigningDigest: digests[i][:]}
	}
	proofs, err := contracts.SignDigests(digests, key)
	if err != nil {
		b.Fatal(err)
	}
	chain := [][]byte{make([]byte, 600), make([]byte, 500)}
	b.ReportAllocs()
	for b.Loop() {
		encodeSignedBatch(b, chain, batch, proofs)
	}
}

func encodeSignedBatch(b *testing.B, chain [][]byte, batch []store.Queued, proofs []*contracts.BatchProof) {
	if _, _, err := encodeBatch(chain, batch, proofs); err != nil {
		b.Fatal(err)
	}
}
