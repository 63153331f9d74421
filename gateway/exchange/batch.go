package exchange

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
)

// Batch signing. Once BatchSender wraps the node's delivery sender, an
// accepted envelope is sealed (payload canonical and digested, signer named,
// audited as sent with that digest) and queued with its signing digest but
// without a signature. When it leaves, the sender signs the whole batch
// once: an RFC 6962 Merkle tree over the envelopes' signing digests, one
// ECDSA signature over the root, and each envelope gets its
// contracts.BatchProof (root, index, size, audit path, signature). That is
// the format contracts.SignBatch writes, so every envelope stays verifiable
// on its own with contracts.VerifyInBatch or Envelope.Verify after the batch
// is split up; the destination keeps each one exactly as it arrived.
//
// The destination verifies the proofs of a request's envelopes signed as one
// tree together (proveTogether): the tree's n-1 node hashes and one root
// signature check, with each envelope's path still held to the tree, so
// that each one stored stays verifiable alone. Any other envelope signed in
// a batch has its inclusion path checked alone, and each distinct root
// signature of a request is verified once, not once per envelope.

// BatchSender returns a delivery.Sender that signs each batch of envelopes
// queued unsigned before next sends it, and makes this exchange queue
// envelopes unsigned from then on. Call it once, while wiring the node,
// before the first Submit; without it every envelope is signed alone when
// accepted.
func (x *Exchange) BatchSender(next delivery.Sender) delivery.Sender {
	x.batchSign.Store(true)
	return &batchSender{x: x, next: next}
}

type batchSender struct {
	x    *Exchange
	next delivery.Sender
}

// Send signs the unsigned envelopes of the batch together, then sends. A
// next that is a delivery.ProofSender (the node's peer.Client)
// adds the proofs as it writes the request; any other is given a copy of
// each envelope with its proof.
//
// An unsigned envelope names the node that sealed it as its signer, and
// the destination refuses for good one whose signer is not the chain it
// comes with. One queued by this node under another identity (it started
// again under a new name, over the same store) is sealed again, naming the
// node that signs it now: its payload and digest, which the "sent" entry
// recorded, stay as they were. So is one queued signed alone (by a release
// before batch signing, or before BatchSender was wired): its signature is
// the key's of the day it was accepted, and after a rotation the chain sent
// with the batch would not verify it; it goes in the batch instead.
func (s *batchSender) Send(ctx context.Context, peer string, batch []store.Queued) ([]delivery.Outcome, error) {
	// One signer for the proofs and the chain sent with them: the node's
	// certificate may rotate between two reads of it.
	signer := s.x.signer()
	uri := signer.Identity().URI()
	var idx []int
	var digests [][32]byte
	resealed := false
	for i, q := range batch {
		// One that does not read as an envelope is left as it is, for the
		// sender to say why it cannot go.
		if r, ok := reseal(q, uri); ok {
			if !resealed {
				// The worker keeps its batch: the envelopes sealed again go
				// in a copy.
				batch, resealed = slices.Clone(batch), true
			}
			batch[i], q = r, r
		}
		if q.SigningDigest != nil {
			if len(q.SigningDigest) != 32 {
				return nil, &delivery.UnsendableError{EnvelopeID: q.EnvelopeID, Err: fmt.Errorf("signing digest of %d bytes", len(q.SigningDigest))}
			}
			idx = append(idx, i)
			digests = append(digests, [32]byte(q.SigningDigest))
		}
	}
	if len(idx) == 0 {
		return s.next.Send(ctx, peer, batch)
	}
	proofs, err := contracts.SignDigests(digests, signer)
	if err != nil {
		return nil, fmt.Errorf("sign batch for %s: %w", peer, err)
	}
	if ps, ok := s.next.(delivery.ProofSender); ok {
		byEnvelope := make([]*contracts.BatchProof, len(batch))
		for j, i := range idx {
			byEnvelope[i] = proofs[j]
		}
		return ps.SendWithProofs(ctx, peer, batch, byEnvelope, chainDER(signer))
	}
	out := make([]store.Queued, len(batch))
	copy(out, batch)
	for j, i := range idx {
		env, err := contracts.WithBatchProof(batch[i].Envelope, proofs[j])
		if err != nil {
			return nil, &delivery.UnsendableError{EnvelopeID: batch[i].EnvelopeID, Err: err}
		}
		out[i] = store.Queued{EnvelopeID: batch[i].EnvelopeID, Envelope: env}
	}
	return s.next.Send(ctx, peer, out)
}

// sealedBy reports whether env, an envelope queued unsigned as seal writes
// it, names signer (a URI) as its signer: the signer is its last member.
func sealedBy(env []byte, signer string) bool {
	var room [128]byte
	tail := contracts.AppendJSONString(append(room[:0], `,"signer":`...), signer)
	return bytes.HasSuffix(env, append(tail, '}'))
}

// reseal returns q sealed again, unsigned, naming signer (a URI), with its
// signing digest: q is an envelope queued unsigned that names another
// signer, or one queued signed alone. ok is false when q names signer
// already, or does not read as the envelope q says it is.
func reseal(q store.Queued, signer string) (_ store.Queued, ok bool) {
	unsigned := q.SigningDigest != nil
	if unsigned && sealedBy(q.Envelope, signer) {
		return q, false
	}
	env, err := contracts.DecodeEnvelope(q.Envelope)
	if err != nil || env.ID != q.EnvelopeID || env.Batch != nil {
		return q, false // not ours to mend
	}
	if unsigned && (len(env.Signature) > 0 || env.Signer == signer) {
		return q, false // sealedBy did not recognize it as this node's
	}
	if !unsigned && len(env.Signature) == 0 {
		return q, false
	}
	env.Signer, env.Signature = signer, nil
	d, err := env.SigningDigest()
	if err != nil {
		return q, false
	}
	b, err := env.AppendJSON(nil)
	if err != nil {
		return q, false
	}
	return store.Queued{EnvelopeID: q.EnvelopeID, Envelope: b, SigningDigest: d[:]}, true
}

// verifiedDigest checks an envelope's payload digest and signature: signed
// alone, through Envelope.Verify; signed in a batch, its inclusion in the
// batch root here and the root's signature once per request (roots).
// checked says contracts.DecodeEnvelope has already checked the id and the
// payload digest. It returns the envelope's signing digest, which it
// computes to verify it: what the receipt answering the envelope binds
// (contracts.NewBoundReceipt), not hashed again for it.
func verifiedDigest(env *contracts.Envelope, roots *contracts.RootVerifier, checked bool) ([32]byte, error) {
	if env.Batch == nil || len(env.Signature) > 0 {
		return env.VerifyAndDigest(roots.Pub())
	}
	if !checked {
		if _, err := ulid.ParseStrict(env.ID); err != nil {
			return [32]byte{}, fmt.Errorf("envelope %q: id is not a ULID: %w", env.ID, err)
		}
		canon, err := contracts.CanonicalizeJSON(env.Payload)
		if err != nil || len(canon) == 0 || canon[0] != '{' {
			return [32]byte{}, fmt.Errorf("envelope %s: payload is not a canonical JSON object: %v", env.ID, err)
		}
		if contracts.PayloadDigest(canon) != env.PayloadDigest {
			return [32]byte{}, fmt.Errorf("envelope %s: payload digest does not match", env.ID)
		}
	}
	d, err := env.SigningDigest()
	if err != nil {
		return [32]byte{}, err
	}
	p := env.Batch
	if err := p.Includes(d); err != nil {
		return [32]byte{}, fmt.Errorf("envelope %s: %w", env.ID, err)
	}
	if err := roots.Verify(p.Root, p.Signature); err != nil {
		return [32]byte{}, fmt.Errorf("envelope %s: batch: %w", env.ID, err)
	}
	return d, nil
}

// proveTogether verifies together, with contracts.VerifyTrees, the batch
// proofs of the envelopes in ins that the origin's BatchSender signed as one
// tree, and marks those that pass proven, so that check leaves out their
// proof alone. The envelopes it has no digest for (signed alone, or not
// read by the strict decoder) are left out, so that the envelopes of a
// tree between them still come together. An envelope whose tree does not
// verify together is verified alone by verifiedDigest, as every one was
// before, which gives each the answer it had alone.
func proveTogether(ins []inbound, roots *contracts.RootVerifier) {
	at := make([]int, 0, len(ins))
	for i := range ins {
		if ins[i].digested {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return
	}
	ds := make([][32]byte, len(at))
	ps := make([]*contracts.BatchProof, len(at))
	for k, i := range at {
		ds[k], ps[k] = ins[i].digest, ins[i].env.Batch
	}
	for k, ok := range contracts.VerifyTrees(ds, ps, roots) {
		ins[at[k]].proven = ok
	}
}

// verifyInbound is verifiedDigest for an envelope of a request after
// proveTogether, leaving in in.digest the signing digest it verified. A
// proven envelope has nothing left for it to check: the strict decoder
// checked its id and payload, and its tree its signing digest (in.digest
// already), proof and root signature.
func verifyInbound(in *inbound, roots *contracts.RootVerifier) error {
	if in.proven {
		return nil
	}
	d, err := verifiedDigest(in.env, roots, in.checked)
	if err != nil {
		return err
	}
	in.digest = d
	return nil
}
