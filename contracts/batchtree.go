package contracts

import (
	"bytes"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// VerifyTrees verifies together the batch proofs that make up whole signed
// trees and reports which of them it verified. Item i is signing digest
// ds[i] with proof ps[i], or no proof (nil) for an item signed alone; the
// items a signer signed together come as SignDigests returns them, a run
// holding a whole tree in leaf order. Such a run costs the tree's n-1 node
// hashes and one root signature check between them, where checking each
// proof alone (Includes) hashes log2(n) nodes for every item; each item's
// own path is still held to the tree, so that each one kept stays
// verifiable on its own. proven[i] says that ps[i] includes ds[i] and that
// its root's signature verifies with roots. An item not proven is to be
// checked alone, which also names what is wrong: its run's paths, root or
// signature do not match, or it is in no whole run. Digests and proofs
// that do not pair up (slices of different lengths) prove nothing.
func VerifyTrees(ds [][32]byte, ps []*BatchProof, roots *RootVerifier) (proven []bool) {
	proven = make([]bool, len(ps))
	if len(ds) != len(ps) {
		return proven
	}
	for i := 0; i < len(ps); {
		n := wholeTree(ps[i:])
		if n == 0 || !treeHolds(ps[i:i+n], ds[i:i+n]) || roots.Verify(ps[i].Root, ps[i].Signature) != nil {
			i++
			continue
		}
		for k := i; k < i+n; k++ {
			proven[k] = true
		}
		i += n
	}
	return proven
}

// wholeTree is the number of proofs at the start of ps that make up one
// signed tree, leaves 0 to Size-1 in order under one root and signature,
// or 0 when they do not.
func wholeTree(ps []*BatchProof) int {
	first := ps[0]
	if first == nil || first.Index != 0 || first.Size < 1 || first.Size > len(ps) || first.Size > MaxBatch || len(first.Root) != len(tlog.Hash{}) {
		return 0
	}
	for i, p := range ps[1:first.Size] {
		if p == nil || p.Index != i+1 || p.Size != first.Size || !bytes.Equal(p.Root, first.Root) || !bytes.Equal(p.Signature, first.Signature) {
			return 0
		}
	}
	return first.Size
}

// treeHolds reports whether the tree over the digests has the proofs' root
// and each proof's path is its leaf's audit path in that tree.
func treeHolds(ps []*BatchProof, ds [][32]byte) bool {
	t := pathCheck{ps: ps, ds: ds, next: make([]int, len(ps)), ok: true}
	root := t.hash(0, len(ps))
	if !t.ok || root != tlog.Hash(ps[0].Root) {
		return false
	}
	for i, p := range ps {
		if t.next[i] != len(p.Path) {
			return false
		}
	}
	return true
}

// pathCheck walks a tree as proofs.prove builds it, comparing each path
// entry prove would append with the one in the leaf's proof.
type pathCheck struct {
	ps   []*BatchProof
	ds   [][32]byte
	next []int // the next entry of each proof's path to compare
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

// match compares the next path entry of leaves lo to hi with h.
func (t *pathCheck) match(lo, hi int, h tlog.Hash) bool {
	for i := lo; i < hi; i++ {
		path := t.ps[i].Path
		if t.next[i] >= len(path) || !bytes.Equal(path[t.next[i]], h[:]) {
			return false
		}
		t.next[i]++
	}
	return true
}
