package delivery

import (
	"bytes"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// TestASuspectHoldsItsOwnBytesOnly: a suspect is kept for as long as the
// peer has not answered it, while its bytes came as slices of the buffer
// Store.Pending read a whole batch into; it must not hold that buffer.
func TestASuspectHoldsItsOwnBytesOnly(t *testing.T) {
	batch := bytes.Repeat([]byte("x"), 1<<20) // the rest of a batch
	digest := []byte("0123456789abcdef0123456789abcdef")
	env := []byte(`{"id":"01E000001"}`)
	start := len(batch)
	batch = append(append(batch, digest...), env...)
	end := len(batch)
	batch = append(batch, bytes.Repeat([]byte("y"), 1<<20)...) // the batch goes on
	for _, q := range []store.Queued{
		{EnvelopeID: "01E000001", Envelope: batch[start+len(digest) : end], SigningDigest: batch[start : start+len(digest)]},
		{EnvelopeID: "01E000001", Envelope: batch[start+len(digest) : end]},
	} {
		s := newSuspect(q, 7)
		if s.answers != 7 || s.q.EnvelopeID != q.EnvelopeID || !bytes.Equal(s.q.Envelope, env) || !bytes.Equal(s.q.SigningDigest, q.SigningDigest) {
			t.Fatalf("suspect %+v; want the envelope's id, bytes and digest, and answers 7", s)
		}
		if (q.SigningDigest == nil) != (s.q.SigningDigest == nil) {
			t.Errorf("signing digest nil %v, want %v", s.q.SigningDigest == nil, q.SigningDigest == nil)
		}
		if held := cap(s.q.Envelope) + cap(s.q.SigningDigest); held > len(env)+len(digest) {
			t.Errorf("the suspect's slices reach %d bytes; want its own %d at most, not its batch's", held, len(env)+len(digest))
		}
		batch[start] ^= 1 // the batch's buffer, reused: the suspect keeps its bytes
		if q.SigningDigest != nil && bytes.Equal(s.q.SigningDigest, batch[start:start+len(digest)]) {
			t.Error("the suspect's digest shares the batch's buffer")
		}
	}
}
