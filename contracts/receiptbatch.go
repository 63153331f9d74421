package contracts

import (
	"bytes"
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// VerifyReceipts verifies each receipt as VerifyWith does and returns the
// first one's error. The receipts of an answer to a batch come as
// SignReceipts signed them: a run of receipts holding a whole tree, in
// leaf order. Such a run costs the tree's n-1 node hashes and one root
// signature check between them, where checking each receipt's path alone
// hashes log2(n) nodes for every receipt; each receipt's own path is still
// held to the tree, so that each one kept stays verifiable on its own. A
// run whose paths or root do not match the tree, and any other receipt,
// is verified alone, which also names what is wrong.
func VerifyReceipts(rs []*Receipt, roots *RootVerifier) error {
	ds := make([][32]byte, len(rs))
	for i, r := range rs {
		var err error
		if ds[i], err = r.SigningDigest(); err != nil {
			return err
		}
	}
	for i := 0; i < len(rs); {
		if n := wholeTree(rs[i:]); n > 0 && treeHolds(rs[i:i+n], ds[i:i+n]) {
			p := rs[i].Batch
			if err := roots.Verify(p.Root, p.Signature); err != nil {
				return fmt.Errorf("receipt for %s: batch: %w", rs[i].EnvelopeID, err)
			}
			i += n
			continue
		}
		if err := rs[i].verifyDigest(ds[i], roots); err != nil {
			return err
		}
		i++
	}
	return nil
}

// wholeTree is the number of receipts at the start of rs that make up one
// signed tree, leaves 0 to Size-1 in order under one root and signature,
// or 0 when they do not.
func wholeTree(rs []*Receipt) int {
	first := rs[0].Batch
	if first == nil || len(rs[0].Signature) > 0 || first.Index != 0 || first.Size < 1 || first.Size > len(rs) || first.Size > MaxBatch || len(first.Root) != len(tlog.Hash{}) {
		return 0
	}
	for i, r := range rs[1:first.Size] {
		p := r.Batch
		if p == nil || len(r.Signature) > 0 || p.Index != i+1 || p.Size != first.Size || !bytes.Equal(p.Root, first.Root) || !bytes.Equal(p.Signature, first.Signature) {
			return 0
		}
	}
	return first.Size
}

// treeHolds reports whether the tree over the digests has the receipts'
// root and each receipt's path is its leaf's audit path in that tree.
func treeHolds(rs []*Receipt, ds [][32]byte) bool {
	t := pathCheck{rs: rs, ds: ds, next: make([]int, len(rs)), ok: true}
	root := t.hash(0, len(rs))
	if !t.ok || root != tlog.Hash(rs[0].Batch.Root) {
		return false
	}
	for i, r := range rs {
		if t.next[i] != len(r.Batch.Path) {
			return false
		}
	}
	return true
}

// pathCheck walks a tree as proofs.prove builds it, comparing each path
// entry prove would append with the one in the receipt's path.
type pathCheck struct {
	rs   []*Receipt
	ds   [][32]byte
	next []int // the next entry of each receipt's path to compare
	ok   bool
}

// hash returns the tree hash of leaves lo to hi, and checks the path
// entries that level adds; a mismatch clears ok and ends the walk.
func (t *pathCheck) hash(lo, hi int) tlog.Hash {
	if hi-lo == 1 {
		return leafHash(t.ds[lo])
	}
	k := 1 << (bits.Len(uint(hi-lo-1)) - 1) // as prove splits
	left := t.hash(lo, lo+k)
	if !t.ok {
		return tlog.Hash{}
	}
	right := t.hash(lo+k, hi)
	if !t.ok || !t.match(lo, lo+k, right) || !t.match(lo+k, hi, left) {
		t.ok = false
		return tlog.Hash{}
	}
	return tlog.NodeHash(left, right)
}

// match compares the next path entry of receipts lo to hi with h.
func (t *pathCheck) match(lo, hi int, h tlog.Hash) bool {
	for i := lo; i < hi; i++ {
		path := t.rs[i].Batch.Path
		if t.next[i] >= len(path) || !bytes.Equal(path[t.next[i]], h[:]) {
			return false
		}
		t.next[i]++
	}
	return true
}
