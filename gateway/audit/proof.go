package audit

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofSource serves the proofs an auditor checks heads and entries with.
// *Log is one; the node's API client is another, so Verify runs the same on
// a node and at an auditor's desk.
type ProofSource interface {
	// InclusionProof proves that the entry at index is in the tree of the
	// first treeSize entries.
	InclusionProof(ctx context.Context, index, treeSize int64) (tlog.RecordProof, error)
	// ConsistencyProof proves that the tree of oldSize entries is a prefix
	// of the tree of newSize entries.
	ConsistencyProof(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)
}

var _ ProofSource = (*Log)(nil)

// InclusionProof proves that the entry at index is in the tree of the first
// treeSize entries (RFC 6962 audit path, tlog.ProveRecord).
func (l *Log) InclusionProof(ctx context.Context, index, treeSize int64) (tlog.RecordProof, error) {
	if index < 0 || index >= treeSize || treeSize > l.Size() {
		return nil, fmt.Errorf("inclusion proof: need 0 <= index %d < tree size %d <= log size %d", index, treeSize, l.Size())
	}
	var p tlog.RecordProof
	err := l.readHashes(ctx, func(r tlog.HashReader) (err error) {
		p, err = tlog.ProveRecord(treeSize, index, r)
		return err
	})
	return p, err
}

// ConsistencyProof proves that the tree of oldSize entries is a prefix of the
// tree of newSize entries (tlog.ProveTree). Proofs from the empty tree are
// empty.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	if oldSize < 0 || oldSize > newSize || newSize > l.Size() {
		return nil, fmt.Errorf("consistency proof: need 0 <= old %d <= new %d <= log size %d", oldSize, newSize, l.Size())
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	var p tlog.TreeProof
	err := l.readHashes(ctx, func(r tlog.HashReader) (err error) {
		p, err = tlog.ProveTree(newSize, oldSize, r)
		return err
	})
	return p, err
}

// RootAt is the root hash of the first size entries, for any size up to the
// log's; heads commit to exactly this.
func (l *Log) RootAt(ctx context.Context, size int64) (tlog.Hash, error) {
	if size < 0 || size > l.Size() {
		return tlog.Hash{}, fmt.Errorf("root: size %d outside 0..%d", size, l.Size())
	}
	var h tlog.Hash
	err := l.readHashes(ctx, func(r tlog.HashReader) (err error) {
		h, err = treeHash(size, r)
		return err
	})
	return h, err
}

func (l *Log) readHashes(ctx context.Context, fn func(tlog.HashReader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.view(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		return fn(hashReader{b})
	})
}

// CheckInclusion verifies that data is the entry at index in the tree the
// head commits to. An auditor needs only the head, the entry and the proof.
func CheckInclusion(p tlog.RecordProof, index int64, data []byte, h Head) error {
	if err := tlog.CheckRecord(p, h.Size, h.Root, index, LeafHash(data)); err != nil {
		return fmt.Errorf("entry %d not in head of size %d: %w", index, h.Size, err)
	}
	return nil
}

// CheckConsistency verifies that the older head's tree is a prefix of the
// newer head's: nothing the older head covered was rewritten, removed or
// reordered.
func CheckConsistency(p tlog.TreeProof, older, newer Head) error {
	switch {
	case older.Size > newer.Size:
		return fmt.Errorf("head of size %d is older than head of size %d: the log shrank", older.Size, newer.Size)
	case older.Size == 0:
		return nil
	case older.Size == newer.Size:
		if older.Root != newer.Root {
			return fmt.Errorf("two heads of size %d with different roots", older.Size)
		}
		return nil
	}
	if err := tlog.CheckTree(p, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return fmt.Errorf("head of size %d is not a prefix of head of size %d: %w", older.Size, newer.Size, err)
	}
	return nil
}
