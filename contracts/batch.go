package contracts

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// Batch signing: a node delivering hundreds of envelopes at once signs one
// Merkle root instead of each envelope. The tree hashes the envelopes'
// signing digests as RFC 6962 does (leaf = SHA-256(0x00 || digest), node =
// SHA-256(0x01 || left || right)), and each envelope keeps its inclusion path,
// so it stays verifiable on its own after the batch is split up.

// MaxBatch bounds the envelopes signed together.
const MaxBatch = 1 << 16

// MaxDeliveryBatch is the most envelopes one delivery request between
// nodes may carry: a receiver refuses a longer batch, so a sender must not
// be configured to send one. It belongs to the peer protocol; it lives
// here so that the sender's settings (gateway/delivery) and the receiver
// (gateway/peer), which delivery cannot import, read the same bound.
const MaxDeliveryBatch = 1000

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

// leafHash is RFC 6962's leaf hash of a signing digest: tlog.RecordHash,
// written out so as to hash in one sha256.Sum256 rather than through a
// hash.Hash, since every envelope signed or verified in a batch hashes its
// leaf (TestSignDigestsProofs holds it to tlog's).
func leafHash(d [32]byte) tlog.Hash {
	var b [1 + sha256.Size]byte
	copy(b[1:], d[:])
	return sha256.Sum256(b[:])
}

// proofs is a batch's tree being built: its hashes, leaves first, and each
// leaf's proof. The hashes' room is made once, so a path can point into it.
type proofs struct {
	hashes []tlog.Hash
	proofs []BatchProof
}

// prove returns the tree hash of leaves lo to hi and appends, to the path
// of each leaf among them, the hash of the other side at each level, as
// RFC 6962 (section 2.1.1) defines the audit path: each of the tree's n-1
// node hashes is computed once, where tlog.ProveRecord would compute the
// hashes of incomplete subtrees again for every leaf's proof.
func (t *proofs) prove(lo, hi int) []byte {
	if hi-lo == 1 {
		return t.hashes[lo][:]
	}
	k := 1 << (bits.Len(uint(hi-lo-1)) - 1) // the largest power of two below hi-lo
	left, right := t.prove(lo, lo+k), t.prove(lo+k, hi)
	for i := lo; i < lo+k; i++ {
		t.proofs[i].Path = append(t.proofs[i].Path, right)
	}
	for i := lo + k; i < hi; i++ {
		t.proofs[i].Path = append(t.proofs[i].Path, left)
	}
	t.hashes = append(t.hashes, tlog.NodeHash(tlog.Hash(left), tlog.Hash(right)))
	return t.hashes[len(t.hashes)-1][:]
}

// tree returns the RFC 6962 tree hash over the digests (leaf i is the leaf
// hash of digest i) and each one's proof with Index, Size and Path set.
// The proofs' paths share their hashes.
func tree(digests [][32]byte) ([]BatchProof, tlog.Hash, error) {
	n := len(digests)
	if n == 0 || n > MaxBatch {
		return nil, tlog.Hash{}, fmt.Errorf("batch: %d envelopes, want 1 to %d", n, MaxBatch)
	}
	t := proofs{hashes: make([]tlog.Hash, n, 2*n-1), proofs: make([]BatchProof, n)}
	for i, d := range digests {
		t.hashes[i] = leafHash(d)
	}
	depth := bits.Len(uint(n - 1))
	paths := make([][]byte, n*depth)
	for i := range t.proofs {
		t.proofs[i] = BatchProof{Index: i, Size: n, Path: paths[i*depth : i*depth : (i+1)*depth]}
	}
	root := tlog.Hash(t.prove(0, n))
	return t.proofs, root, nil
}

// SignDigests signs the Merkle root over envelopes' signing digests once and
// returns each envelope's proof, in order. It serves senders that hold the
// digests of queued envelopes rather than decoded envelopes.
func SignDigests(digests [][32]byte, signer crypto.Signer) ([]*BatchProof, error) {
	all, root, err := tree(digests)
	if err != nil {
		return nil, err
	}
	sig, err := SignDigest(signer, root)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	out := make([]*BatchProof, len(all))
	for i := range all {
		all[i].Root, all[i].Signature = root[:], sig
		out[i] = &all[i]
	}
	return out, nil
}

func signingDigests(envs []*Envelope) ([][32]byte, error) {
	ds := make([][32]byte, len(envs))
	for i, e := range envs {
		d, err := e.SigningDigest()
		if err != nil {
			return nil, fmt.Errorf("batch: envelope %s: %w", e.ID, err)
		}
		ds[i] = d
	}
	return ds, nil
}

// BatchDigest is the Merkle root over the envelopes' signing digests, in order.
func BatchDigest(envs []*Envelope) ([32]byte, error) {
	ds, err := signingDigests(envs)
	if err != nil {
		return [32]byte{}, err
	}
	_, root, err := tree(ds)
	return root, err
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
	ds, err := signingDigests(envs)
	if err != nil {
		return err
	}
	proofs, err := SignDigests(ds, signer)
	if err != nil {
		return err
	}
	for i, e := range envs {
		e.Batch = proofs[i]
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

// Includes checks that the signing digest d sits at Index in the tree with
// Root (RFC 9162 section 2.1.3.2). It does not check Root's signature.
func (p *BatchProof) Includes(d [32]byte) error {
	if len(p.Root) != sha256.Size || p.Index < 0 || p.Index >= p.Size || p.Size > MaxBatch {
		return fmt.Errorf("%w: malformed batch proof (root %d bytes, index %d, size %d)", ErrSignature, len(p.Root), p.Index, p.Size)
	}
	for _, h := range p.Path {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: malformed batch path", ErrSignature)
		}
	}
	if !p.included(leafHash(d)) {
		return fmt.Errorf("%w: not included in the batch root", ErrSignature)
	}
	return nil
}

// included runs RFC 9162's inclusion proof verification (section
// 2.1.3.2) of leaf along Path, reading the path where it lies.
func (p *BatchProof) included(leaf tlog.Hash) bool {
	fn, sn, r := p.Index, p.Size-1, leaf
	for _, h := range p.Path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = tlog.NodeHash(tlog.Hash(h), r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = tlog.NodeHash(r, tlog.Hash(h))
		}
		fn, sn = fn>>1, sn>>1
	}
	return sn == 0 && r == tlog.Hash(p.Root)
}

// verify checks that digest d is in the batch and that Root is signed under pub.
func (p *BatchProof) verify(d [32]byte, pub crypto.PublicKey, id string) error {
	if err := p.verifyWith(d, NewRootVerifier(pub)); err != nil {
		return fmt.Errorf("envelope %s: %w", id, err)
	}
	return nil
}

// verifyWith checks that digest d is in the batch and, through roots, that
// Root is signed.
func (p *BatchProof) verifyWith(d [32]byte, roots *RootVerifier) error {
	if err := p.Includes(d); err != nil {
		return err
	}
	if err := roots.Verify(p.Root, p.Signature); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// RootVerifier checks batch roots' signatures under one public key and
// remembers each answer, so that the envelopes or receipts of one batch cost
// a single signature check between them. It is safe for concurrent use;
// keep one per request (or per signer) rather than for ever. The key is
// fixed when it is made: answers remembered under one key are never given
// for another.
type RootVerifier struct {
	pub crypto.PublicKey

	mu   sync.Mutex
	seen map[string]error // by root and signature
}

// NewRootVerifier returns a RootVerifier for signatures under pub.
func NewRootVerifier(pub crypto.PublicKey) *RootVerifier {
	return &RootVerifier{pub: pub}
}

// Pub is the key the verifier checks signatures under.
func (v *RootVerifier) Pub() crypto.PublicKey { return v.pub }

// Verify checks sig over root, once per distinct pair.
func (v *RootVerifier) Verify(root, sig []byte) error {
	if len(root) != sha256.Size {
		return fmt.Errorf("%w: batch root has %d bytes", ErrSignature, len(root))
	}
	key := string(root) + string(sig)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err, done := v.seen[key]; done {
		return err
	}
	err := VerifyDigest(v.pub, [32]byte(root), sig)
	if v.seen == nil {
		v.seen = map[string]error{}
	}
	v.seen[key] = err
	return err
}

// Checks is the number of distinct signature checks made.
func (v *RootVerifier) Checks() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)
}
