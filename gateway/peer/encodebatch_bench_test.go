package peer

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// BenchmarkEncodeSignedBatch writes a request for 100 envelopes of ~2 KB
// queued unsigned, each with its batch proof, as an origin does for every
// batch it delivers, and reads it through as the HTTP transport does.
func BenchmarkEncodeSignedBatch(b *testing.B) {
	digests, proofs := signedDigests(b, 100)
	batch := make([]store.Queued, len(digests))
	for i := range batch {
		env := fmt.Sprintf(`{"id":"01JABCDEFGHJKMNPQRSTVW%04d","type":"transfer","payload":{"pad":%q},"payload_digest":"sha256:%064d"}`, i, strings.Repeat("a", 1900), i)
		batch[i] = store.Queued{EnvelopeID: fmt.Sprint(i), Envelope: []byte(env), SigningDigest: digests[i][:]}
	}
	chain := [][]byte{make([]byte, 600), make([]byte, 500)}
	b.ReportAllocs()
	for b.Loop() {
		body, _, err := encodeBatch(chain, batch, proofs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, body.reader()); err != nil {
			b.Fatal(err)
		}
	}
}
