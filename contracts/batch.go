package contracts

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Batch signing: a node delivering hundreds of envelopes at once signs one
// Merkle root instead of each envelope. The tree hashes the envelopes'
// signing digests as RFC 6962 does (leaf = SHA-256(0x00 || digest), node =
// SHA-256(0x01 || left || right)), and each envelope keeps its inclusion path,
// so it stays verifiable on its own after the batch is split up.

// MaxBatch bounds the envelopes signed together.
const MaxBatch = 1 << 16

// BatchProof places an envelope in a signed batch.
type BatchProof struct {
	// Root is the Merkle tree hash of the batch, 32 bytes.
	Root []byte `json:"root"`
	// Index is the envelope's position in the batch; Size the batch's length.
	Index int `json:"index"`
	Size  int `json:"size"`
	// Path is the RFC 6962 audit path from the envelope's leaf to Root.
	Path [][]byte `json:"path"`
	// Signature is the signer's signature over Root (see SignDigest).
	Signature []byte `json:"signature"`
}

func leafHash(d [32]byte) [32]byte {
	var b [33]byte
	b[0] = 0
	copy(b[1:], d[:])
	return sha256.Sum256(b[:])
}

func nodeHash(l, r []byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l)
	copy(b[33:], r)
	return sha256.Sum256(b[:])
}

// merkleRoot is RFC 6962's MTH over leaf hashes.
func merkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := splitPoint(len(leaves))
	l, r := merkleRoot(leaves[:k]), merkleRoot(leaves[k:])
	return nodeHash(l[:], r[:])
}

// merklePath is RFC 6962's PATH(m, D[n]).
func merklePath(m int, leaves [][32]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := splitPoint(len(leaves))
	if m < k {
		sib := merkleRoot(leaves[k:])
		return append(merklePath(m, leaves[:k]), sib[:])
	}
	sib := merkleRoot(leaves[:k])
	return append(merklePath(m-k, leaves[k:]), sib[:])
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

func batchLeaves(envs []*Envelope) ([][32]byte, error) {
	if len(envs) == 0 || len(envs) > MaxBatch {
		return nil, fmt.Errorf("batch: %d envelopes, want 1 to %d", len(envs), MaxBatch)
	}
	leaves := make([][32]byte, len(envs))
	for i, e := range envs {
		d, err := e.SigningDigest()
		if err != nil {
			return nil, fmt.Errorf("batch: envelope %s: %w", e.ID, err)
		}
		leaves[i] = leafHash(d)
	}
	return leaves, nil
}

// BatchDigest is the Merkle root over the envelopes' signing digests, in order.
func BatchDigest(envs []*Envelope) ([32]byte, error) {
	leaves, err := batchLeaves(envs)
	if err != nil {
		return [32]byte{}, err
	}
	return merkleRoot(leaves), nil
}

// SignBatch sets every envelope's Signer, signs the batch's Merkle root once
// and gives each envelope its BatchProof (clearing any single signature).
func SignBatch(envs []*Envelope, signer crypto.Signer, signerURI string) error {
	if signerURI == "" {
		return errors.New("batch: sign: no signer URI")
	}
	for _, e := range envs {
		e.Signer, e.Signature, e.Batch = signerURI, nil, nil
	}
	leaves, err := batchLeaves(envs)
	if err != nil {
		return err
	}
	root := merkleRoot(leaves)
	sig, err := SignDigest(signer, root)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	for i, e := range envs {
		e.Batch = &BatchProof{Root: root[:], Index: i, Size: len(envs), Path: merklePath(i, leaves), Signature: sig}
	}
	return nil
}

// VerifyInBatch checks an envelope signed as part of a batch: its payload,
// its inclusion in the batch root, and the root's signature under pub.
func VerifyInBatch(e *Envelope, pub crypto.PublicKey) error {
	if e.Batch == nil {
		return fmt.Errorf("envelope %s: not signed in a batch", e.ID)
	}
	canon, err := e.checkPayload()
	if err != nil {
		return err
	}
	d, err := e.signingDigest(canon)
	if err != nil {
		return fmt.Errorf("envelope %s: %w", e.ID, err)
	}
	return e.Batch.verify(d, pub, e.ID)
}

// verify checks that digest d sits at Index in the tree with Root, and that
// Root is signed under pub (RFC 9162 section 2.1.3.2).
func (p *BatchProof) verify(d [32]byte, pub crypto.PublicKey, id string) error {
	if len(p.Root) != sha256.Size {
		return fmt.Errorf("envelope %s: batch root has %d bytes, want 32", id, len(p.Root))
	}
	if p.Index < 0 || p.Index >= p.Size || p.Size > MaxBatch {
		return fmt.Errorf("envelope %s: batch index %d outside size %d", id, p.Index, p.Size)
	}
	fn, sn := p.Index, p.Size-1
	r := leafHash(d)
	for _, sib := range p.Path {
		if sn == 0 || len(sib) != sha256.Size {
			return fmt.Errorf("envelope %s: %w: malformed batch path", id, ErrSignature)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(sib, r[:])
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r[:], sib)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r[:], p.Root) {
		return fmt.Errorf("envelope %s: %w: not included in the batch root", id, ErrSignature)
	}
	if err := VerifyDigest(pub, [32]byte(p.Root), p.Signature); err != nil {
		return fmt.Errorf("envelope %s: batch: %w", id, err)
	}
	return nil
}
