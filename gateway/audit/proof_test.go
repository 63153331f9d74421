package audit

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestInclusionProofNearTheEdges(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	appendN(t, l, 257)
	raw, err := l.RawEntries(ctx, 0, 257)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{1, 2, 3, 7, 8, 9, 255, 256, 257} {
		root, err := l.RootAt(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		head := Head{Size: n, Root: root}
		for _, i := range []int64{0, 1, n / 2, n - 2, n - 1} {
			if i < 0 || i >= n {
				continue
			}
			t.Run(fmt.Sprintf("entry %d of %d", i, n), func(t *testing.T) {
				p, err := l.InclusionProof(ctx, i, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := CheckInclusion(p, i, raw[i].Data, head); err != nil {
					t.Error(err)
				}
				other := raw[(i+1)%257].Data
				if CheckInclusion(p, i, other, head) == nil && n > 1 {
					t.Error("proof accepted a different entry")
				}
			})
		}
	}
	if _, err := l.InclusionProof(ctx, 5, 258); err == nil {
		t.Error("proof for a tree larger than the log")
	}
}

func TestConsistencyProofAcrossManyAppends(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	const total = 1000
	roots := []tlog.Hash{emptyRoot}
	for i := range total {
		if _, err := l.Append(ctx, sentEntry(i)); err != nil {
			t.Fatal(err)
		}
		r, err := l.RootAt(ctx, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, r)
	}
	// Every root recomputed later must equal the root seen at the time:
	// appends never change an earlier tree.
	for _, n := range []int64{1, 2, 500, 999, 1000} {
		if r, _ := l.RootAt(ctx, n); r != roots[n] {
			t.Errorf("root of %d changed after later appends", n)
		}
	}
	sizes := []int64{0, 1, 2, 3, 4, 5, 63, 64, 65, 511, 512, 513, 777, 999, 1000}
	for _, m := range sizes {
		for _, n := range sizes {
			if m > n {
				continue
			}
			t.Run(fmt.Sprintf("%d to %d", m, n), func(t *testing.T) {
				p, err := l.ConsistencyProof(ctx, m, n)
				if err != nil {
					t.Fatal(err)
				}
				older, newer := Head{Size: m, Root: roots[m]}, Head{Size: n, Root: roots[n]}
				if err := CheckConsistency(p, older, newer); err != nil {
					t.Error(err)
				}
				if m > 0 && m < n {
					forged := older
					forged.Root[0] ^= 1
					if CheckConsistency(p, forged, newer) == nil {
						t.Error("proof accepted a forged older root")
					}
				}
			})
		}
	}
}
