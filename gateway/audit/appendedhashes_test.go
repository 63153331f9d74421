package audit

import (
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// TestBatchedAppendsStoreTheTreeHashes appends entries in transactions of
// different sizes, so that tree hashes are read both from those the same
// call wrote and from the bucket, and checks every tree hash stored
// against the hashes of the entries themselves.
func TestBatchedAppendsStoreTheTreeHashes(t *testing.T) {
	for _, batch := range []int{1, 2, 3, 7, 64} {
		l, db := newTestLog(t)
		const n = 150
		for done := 0; done < n; {
			es := make([]Entry, min(batch, n-done))
			for i := range es {
				es[i] = sentEntry(done + i)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, es...) }); err != nil {
				t.Fatal(err)
			}
			done += len(es)
		}
		raw, err := l.RawEntries(context.Background(), 0, n)
		if err != nil || len(raw) != n {
			t.Fatalf("batch %d: %d raw entries, %v", batch, len(raw), err)
		}
		var want tlog.HashReaderFunc
		var stored []tlog.Hash
		want = func(indexes []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(indexes))
			for i, x := range indexes {
				out[i] = stored[x]
			}
			return out, nil
		}
		for i, e := range raw {
			hs, err := tlog.StoredHashes(int64(i), e.Data, want)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, hs...)
		}
		if err := db.View(func(tx *bolt.Tx) error {
			b, err := l.buckets(tx)
			if err != nil {
				return err
			}
			got, err := hashReader{b.hashes}.ReadHashes(indexRange(len(stored)))
			if err != nil {
				return err
			}
			for x := range stored {
				if got[x] != stored[x] {
					t.Errorf("batch %d: tree hash %d is %v, want %v", batch, x, got[x], stored[x])
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func indexRange(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

// TestAppendedHashesKeepWhatTheyReturned: the hashes add returns are
// handed to bbolt as values, which it reads at the commit; an add that
// does not follow the hashes kept starts past them rather than over them.
func TestAppendedHashesKeepWhatTheyReturned(t *testing.T) {
	r := &appendedHashes{hs: make([]tlog.Hash, 0, 4)}
	a, b := tlog.Hash{1}, tlog.Hash{2}
	first, err := r.add(0, tlog.StoredHashIndex(0, 0), a)
	if err != nil {
		t.Fatal(err)
	}
	// Entry 2 completes no subtree, so nothing is read; its hashes are not
	// at the index after entry 0's.
	if _, err := r.add(2, tlog.StoredHashIndex(0, 2), b); err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0] != a {
		t.Errorf("entry 0's hashes became %v, want [%v]", first, a)
	}
}
