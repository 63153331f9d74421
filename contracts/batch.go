package contracts

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
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

// leafHash is RFC 6962's leaf hash of a signing digest.
func leafHash(d [32]byte) tlog.Hash { return tlog.RecordHash(d[:]) }

// memHashes is a tlog.HashReader over a tree built in memory.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not in a tree of %d hashes", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

// tree stores the RFC 6962 tree over the digests (leaf i is the leaf hash of
// digest i) and returns its hashes and root, in O(n) hashes.
func tree(digests [][32]byte) (memHashes, tlog.Hash, error) {
	n := int64(len(digests))
	if n == 0 || n > MaxBatch {
		return nil, tlog.Hash{}, fmt.Errorf("batch: %d envelopes, want 1 to %d", n, MaxBatch)
	}
	var hashes memHashes
	for i, d := range digests {
		add, err := tlog.StoredHashesForRecordHash(int64(i), leafHash(d), hashes)
		if err != nil {
			return nil, tlog.Hash{}, err
		}
		hashes = append(hashes, add...)
	}
	root, err := tlog.TreeHash(n, hashes)
	return hashes, root, err
}

// SignDigests signs the Merkle root over envelopes' signing digests once and
// returns each envelope's proof, in order. It serves senders that hold the
// digests of queued envelopes rather than decoded envelopes.
func SignDigests(digests [][32]byte, signer crypto.Signer) ([]*BatchProof, error) {
	hashes, root, err := tree(digests)
	if err != nil {
		return nil, err
	}
	sig, err := SignDigest(signer, root)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	n := int64(len(digests))
	proofs := make([]*BatchProof, n)
	for i := range proofs {
		rp, err := tlog.ProveRecord(n, int64(i), hashes)
		if err != nil {
			return nil, err
		}
		path := make([][]byte, len(rp))
		for k := range rp {
			path[k] = rp[k][:]
		}
		proofs[i] = &BatchProof{Root: root[:], Index: i, Size: int(n), Path: path, Signature: sig}
	}
	return proofs, nil
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
	path := make(tlog.RecordProof, len(p.Path))
	for i, h := range p.Path {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: malformed batch path", ErrSignature)
		}
		path[i] = tlog.Hash(h)
	}
	if err := tlog.CheckRecord(path, int64(p.Size), tlog.Hash(p.Root), int64(p.Index), leafHash(d)); err != nil {
		return fmt.Errorf("%w: not included in the batch root", ErrSignature)
	}
	return nil
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
