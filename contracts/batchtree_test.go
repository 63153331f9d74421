package contracts_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// provedDigests returns n digests, from the seed's, signed together, with
// proofs that share no bytes, as a destination decodes them from a request.
func provedDigests(tb testing.TB, signer crypto.Signer, seed, n int) ([][32]byte, []*contracts.BatchProof) {
	tb.Helper()
	ds := make([][32]byte, n)
	for i := range ds {
		ds[i] = sha256.Sum256(fmt.Appendf(nil, "envelope %d of %d", i, seed))
	}
	ps, err := contracts.SignDigests(ds, signer)
	if err != nil {
		tb.Fatal(err)
	}
	for i, p := range ps {
		c := *p
		c.Root, c.Signature = bytes.Clone(p.Root), bytes.Clone(p.Signature)
		c.Path = make([][]byte, len(p.Path))
		for k, h := range p.Path {
			c.Path[k] = bytes.Clone(h)
		}
		ps[i] = &c
	}
	return ds, ps
}

// TestVerifyTreesAsEachAlone holds VerifyTrees to checking each proof alone
// (Includes, then the root's signature): what it marks proven verifies
// alone, whole trees are proven with one signature check each, and a run
// that is incomplete, out of order or tampered with is left to be checked
// alone, all of it.
func TestVerifyTreesAsEachAlone(t *testing.T) {
	key, other := keys(t)[0].priv, keys(t)[0].priv
	type batch struct {
		ds [][32]byte
		ps []*contracts.BatchProof
	}
	tree := func(signer crypto.Signer, seed, n int) batch {
		ds, ps := provedDigests(t, signer, seed, n)
		return batch{ds, ps}
	}
	join := func(bs ...batch) batch {
		var all batch
		for _, b := range bs {
			all.ds, all.ps = append(all.ds, b.ds...), append(all.ps, b.ps...)
		}
		return all
	}
	alone := batch{ds: [][32]byte{{1}}, ps: []*contracts.BatchProof{nil}}
	cases := []struct {
		name   string
		batch  func() batch
		proven int // items VerifyTrees verifies
		checks int // root signature checks it makes
	}{
		{"a tree of 100", func() batch { return tree(key, 1, 100) }, 100, 1},
		{"a tree of 1", func() batch { return tree(key, 1, 1) }, 1, 1},
		{"two trees", func() batch { return join(tree(key, 1, 60), tree(key, 2, 7)) }, 67, 2},
		{"signed alone between trees", func() batch { return join(tree(key, 1, 5), alone, tree(key, 2, 3)) }, 8, 2},
		{"signed alone inside a tree", func() batch {
			b := tree(key, 1, 6)
			return join(batch{b.ds[:2], b.ps[:2]}, alone, batch{b.ds[2:], b.ps[2:]})
		}, 0, 0},
		{"a leaf missing", func() batch {
			b := tree(key, 1, 10)
			return batch{append(b.ds[:3:3], b.ds[4:]...), append(b.ps[:3:3], b.ps[4:]...)}
		}, 0, 0},
		{"a leaf twice", func() batch {
			b := tree(key, 1, 10)
			return join(b, batch{b.ds[4:5], b.ps[4:5]})
		}, 10, 1},
		{"two leaves swapped", func() batch {
			b := tree(key, 1, 10)
			b.ds[2], b.ds[7] = b.ds[7], b.ds[2]
			b.ps[2], b.ps[7] = b.ps[7], b.ps[2]
			return b
		}, 0, 0},
		{"a digest changed", func() batch {
			b := tree(key, 1, 100)
			b.ds[50][0] ^= 1
			return b
		}, 0, 0},
		{"a path entry changed", func() batch {
			b := tree(key, 1, 100)
			b.ps[37].Path[2][5] ^= 1
			return b
		}, 0, 0},
		{"a path entry short", func() batch {
			b := tree(key, 1, 100)
			b.ps[64].Path[0] = b.ps[64].Path[0][:31]
			return b
		}, 0, 0},
		{"a path cut short", func() batch {
			b := tree(key, 1, 100)
			b.ps[99].Path = b.ps[99].Path[:len(b.ps[99].Path)-1]
			return b
		}, 0, 0},
		{"a path made longer", func() batch {
			b := tree(key, 1, 8)
			b.ps[3].Path = append(b.ps[3].Path, b.ps[3].Path[0])
			return b
		}, 0, 0},
		{"a size changed", func() batch {
			b := tree(key, 1, 5)
			b.ps[2].Size++ // still includes its digest: 2 of 5 and 2 of 6 are alike
			return b
		}, 0, 0},
		{"every root changed alike", func() batch {
			b := tree(key, 1, 16)
			for _, p := range b.ps {
				p.Root[0] ^= 1
			}
			return b
		}, 0, 0},
		{"signed by another key", func() batch { return tree(other, 1, 20) }, 0, 1},
		{"one signature changed", func() batch {
			b := tree(key, 1, 20)
			b.ps[11].Signature = tree(key, 1, 20).ps[11].Signature
			return b
		}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.batch()
			roots := contracts.NewRootVerifier(key.Public())
			proven := contracts.VerifyTrees(b.ds, b.ps, roots)
			if len(proven) != len(b.ps) {
				t.Fatalf("%d answers for %d items", len(proven), len(b.ps))
			}
			n := 0
			for i, ok := range proven {
				if !ok {
					continue
				}
				n++
				p := b.ps[i]
				if err := p.Includes(b.ds[i]); err != nil {
					t.Errorf("item %d proven, alone: %v", i, err)
				}
				if err := contracts.NewRootVerifier(key.Public()).Verify(p.Root, p.Signature); err != nil {
					t.Errorf("item %d proven, its root: %v", i, err)
				}
			}
			if n != c.proven {
				t.Errorf("%d items proven, want %d", n, c.proven)
			}
			if roots.Checks() != c.checks {
				t.Errorf("%d signature checks, want %d", roots.Checks(), c.checks)
			}
		})
	}
}

// BenchmarkVerifyTrees100 verifies the proofs of a request's 100 envelopes
// signed together, as a destination does for every batch it receives;
// Alone100 is each proof checked alone (Includes and the root's signature
// looked up), as it did before.
func BenchmarkVerifyTrees100(b *testing.B) {
	key := keys(b)[0].priv
	ds, ps := provedDigests(b, key, 1, 100)
	b.ReportAllocs()
	for b.Loop() {
		for i, ok := range contracts.VerifyTrees(ds, ps, contracts.NewRootVerifier(key.Public())) {
			if !ok {
				b.Fatalf("item %d not proven", i)
			}
		}
	}
}

func BenchmarkVerifyTreesAlone100(b *testing.B) {
	key := keys(b)[0].priv
	ds, ps := provedDigests(b, key, 1, 100)
	b.ReportAllocs()
	for b.Loop() {
		roots := contracts.NewRootVerifier(key.Public())
		for i, p := range ps {
			if err := p.Includes(ds[i]); err != nil {
				b.Fatal(err)
			}
			if err := roots.Verify(p.Root, p.Signature); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestVerifyTreesOfUnpairedSlices: digests and proofs of different lengths
// prove nothing, rather than pairing some of them or reading past the
// shorter slice (ds[:7] still has the eighth digest within its capacity).
func TestVerifyTreesOfUnpairedSlices(t *testing.T) {
	key := keys(t)[0].priv
	ds, ps := provedDigests(t, key, 1, 8)
	roots := contracts.NewRootVerifier(key.Public())
	for _, tt := range []struct {
		name string
		ds   [][32]byte
		ps   []*contracts.BatchProof
	}{
		{"a digest short", ds[:7], ps},
		{"a digest more", append(ds[:8:8], [32]byte{}), ps},
		{"a proof short", ds, ps[:7]},
		{"no digests", nil, ps},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proven := contracts.VerifyTrees(tt.ds, tt.ps, roots)
			if len(proven) != len(tt.ps) || slices.Contains(proven, true) {
				t.Errorf("proven %v, want %d items none proven", proven, len(tt.ps))
			}
		})
	}
	if proven := contracts.VerifyTrees(ds, ps, roots); slices.Contains(proven, false) {
		t.Errorf("the paired slices: proven %v, want all", proven)
	}
}
