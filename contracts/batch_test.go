package contracts_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/laborlink/laborlink/contracts"
)

// digests returns n distinct signing digests.
func digests(n int) [][32]byte {
	ds := make([][32]byte, n)
	for i := range ds {
		ds[i] = sha256.Sum256(fmt.Appendf(nil, "envelope %d", i))
	}
	return ds
}

// referenceTree is the batch tree as tlog builds it: its stored hashes and
// root, for proofs made and checked by tlog to hold the package's own to.
func referenceTree(t *testing.T, ds [][32]byte) (tlog.HashReaderFunc, tlog.Hash) {
	t.Helper()
	var stored []tlog.Hash
	for i, d := range ds {
		add, err := tlog.StoredHashesForRecordHash(int64(i), tlog.RecordHash(d[:]), tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(ix))
			for k, x := range ix {
				out[k] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, add...)
	}
	read := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for k, x := range ix {
			out[k] = stored[x]
		}
		return out, nil
	})
	root, err := tlog.TreeHash(int64(len(ds)), read)
	if err != nil {
		t.Fatal(err)
	}
	return read, root
}

// TestSignDigestsProofs holds every proof SignDigests writes to the root and
// audit path tlog computes for the same leaf, written the same way.
func TestSignDigestsProofs(t *testing.T) {
	key := keys(t)[0].priv
	for n := 1; n <= 70; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ds := digests(n)
			read, root := referenceTree(t, ds)
			proofs, err := contracts.SignDigests(ds, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(proofs) != n {
				t.Fatalf("%d proofs for %d digests", len(proofs), n)
			}
			for i, p := range proofs {
				rp, err := tlog.ProveRecord(int64(n), int64(i), read)
				if err != nil {
					t.Fatal(err)
				}
				want := contracts.BatchProof{Root: root[:], Index: i, Size: n, Path: make([][]byte, len(rp)), Signature: p.Signature}
				for k := range rp {
					want.Path[k] = rp[k][:]
				}
				got, _ := json.Marshal(p)
				wantJSON, _ := json.Marshal(want)
				if string(got) != string(wantJSON) {
					t.Fatalf("proof %d:\n got %s\nwant %s", i, got, wantJSON)
				}
				if err := p.Includes(ds[i]); err != nil {
					t.Fatalf("proof %d: %v", i, err)
				}
			}
		})
	}
}

// TestIncludesAgreesWithTlog holds Includes to tlog.CheckRecord on every
// proof of trees up to 40 leaves, each one also tampered with: another
// index or size, a path a hash short or long, each path hash altered, and
// another leaf.
func TestIncludesAgreesWithTlog(t *testing.T) {
	for n := 1; n <= 40; n++ {
		ds := digests(n)
		read, root := referenceTree(t, ds)
		for i := range n {
			rp, err := tlog.ProveRecord(int64(n), int64(i), read)
			if err != nil {
				t.Fatal(err)
			}
			type variant struct {
				name        string
				index, size int
				path        tlog.RecordProof
				digest      [32]byte
			}
			vs := []variant{
				{"as proved", i, n, rp, ds[i]},
				{"next index", i + 1, n, rp, ds[i]},
				{"previous index", i - 1, n, rp, ds[i]},
				{"larger size", i, n + 1, rp, ds[i]},
				{"smaller size", i, n - 1, rp, ds[i]},
				{"another leaf", i, n, rp, ds[(i+1)%n]},
				{"path with an extra hash", i, n, append(rp[:len(rp):len(rp)], root), ds[i]},
			}
			if len(rp) > 0 {
				vs = append(vs, variant{"path a hash short", i, n, rp[:len(rp)-1], ds[i]})
			}
			for k := range rp {
				bad := append(tlog.RecordProof(nil), rp...)
				bad[k][k%32] ^= 1
				vs = append(vs, variant{fmt.Sprintf("path hash %d altered", k), i, n, bad, ds[i]})
			}
			for _, v := range vs {
				if v.index < 0 || v.size < 1 || v.index >= v.size {
					continue // refused before any path is read, by both
				}
				p := contracts.BatchProof{Root: root[:], Index: v.index, Size: v.size, Path: make([][]byte, len(v.path))}
				for k := range v.path {
					p.Path[k] = v.path[k][:]
				}
				want := tlog.CheckRecord(v.path, int64(v.size), root, int64(v.index), tlog.RecordHash(v.digest[:])) == nil
				err := p.Includes(v.digest)
				if (err == nil) != want {
					t.Fatalf("size %d, leaf %d, %s: Includes says %v, tlog accepts: %v", n, i, v.name, err, want)
				}
				if err != nil && !errors.Is(err, contracts.ErrSignature) {
					t.Fatalf("size %d, leaf %d, %s: %v is not ErrSignature", n, i, v.name, err)
				}
				if v.name == "as proved" && err != nil {
					t.Fatalf("size %d, leaf %d: proof refused: %v", n, i, err)
				}
			}
		}
	}
}

func BenchmarkSignDigests100(b *testing.B) {
	ds := digests(100)
	key := keys(b)[0].priv
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.SignDigests(ds, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBatchIncludes100(b *testing.B) {
	ds := digests(100)
	proofs, err := contracts.SignDigests(ds, keys(b)[0].priv)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range proofs {
			if err := p.Includes(ds[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
