package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// tamper edits the entries bucket directly, as an attacker with the file would.
func tamper(t *testing.T, db *bolt.DB, fn func(entries *bolt.Bucket) error) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		return fn(tx.Bucket([]byte("audit")).Bucket(bucketEntries))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func flipByte(i int64) func(*bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		v := bytes.Clone(b.Get(key(i)))
		v[len(v)/2] ^= 0x01
		return b.Put(key(i), v)
	}
}

func deleteEntry(i int64) func(*bolt.Bucket) error {
	return func(b *bolt.Bucket) error { return b.Delete(key(i)) }
}

func swapEntries(i, j int64) func(*bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		vi, vj := bytes.Clone(b.Get(key(i))), bytes.Clone(b.Get(key(j)))
		if err := b.Put(key(i), vj); err != nil {
			return err
		}
		return b.Put(key(j), vi)
	}
}

func TestVerifyReportsTamperingByPosition(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(*bolt.Bucket) error
		want   []Finding
	}{
		{"clean", nil, nil},
		{"one byte changed", flipByte(7), []Finding{{Position: 7, Problem: ProblemRewritten}}},
		{"entry deleted", deleteEntry(12), []Finding{{Position: 12, Problem: ProblemRemoved}}},
		{"two entries swapped", swapEntries(3, 15), []Finding{
			{Position: 3, Problem: ProblemReordered, BelongsAt: 15},
			{Position: 15, Problem: ProblemReordered, BelongsAt: 3}}},
		{"first and last changed", func(b *bolt.Bucket) error {
			if err := flipByte(0)(b); err != nil {
				return err
			}
			return flipByte(19)(b)
		}, []Finding{{Position: 0, Problem: ProblemRewritten}, {Position: 19, Problem: ProblemRewritten}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forChunks(t, func(t *testing.T) { verifyTampered(t, tc.tamper, tc.want) })
		})
	}
}

// forChunks runs fn with Verify reading the log whole and in chunks of
// three entries, which puts chunk boundaries between tampered entries and
// at neither head.
func forChunks(t *testing.T, fn func(*testing.T)) {
	for _, n := range []int64{verifyChunk, 3} {
		t.Run(fmt.Sprintf("chunks of %d", n), func(t *testing.T) {
			defer func(old int64) { verifyChunk = old }(verifyChunk)
			verifyChunk = n
			fn(t)
		})
	}
}

func verifyTampered(t *testing.T, tamperWith func(*bolt.Bucket) error, want []Finding) {
	ctx := context.Background()
	db, _ := newTestDB(t)
	l, err := Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10)
	earlier, err := l.SignedHead(ctx) // the auditor keeps this one
	if err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		if _, err := l.Append(ctx, sentEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.SignedHead(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if tamperWith != nil {
		tamper(t, db, tamperWith)
	}
	l, err = Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Audit(ctx, earlier.Note, testVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 20 || rep.Earlier == nil || rep.Earlier.Size != 10 {
		t.Errorf("checked %d entries against earlier %+v", rep.Checked, rep.Earlier)
	}
	if !slices.Equal(rep.Findings, want) {
		t.Errorf("findings:\n got %v\nwant %v", rep.Findings, want)
	}
}

// TestVerifyOfflineDetectsWithoutProofs is the auditor with only an export
// and heads: any change is detected, swaps are still placed by position.
func TestVerifyOfflineDetectsWithoutProofs(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(*bolt.Bucket) error
		want   []Problem
	}{
		{"clean", nil, nil},
		{"one byte changed", flipByte(4), []Problem{ProblemRootMismatch}},
		{"entry deleted", deleteEntry(4), []Problem{ProblemRootMismatch, ProblemRemoved}},
		{"two entries swapped", swapEntries(2, 5), []Problem{ProblemInconsistent, ProblemRootMismatch, ProblemReordered, ProblemReordered}},
		// A removal does not hide a change elsewhere: without proofs, the
		// entries it leaves are not checked one by one. (From a review.)
		{"entry deleted and another changed", func(b *bolt.Bucket) error {
			if err := deleteEntry(4)(b); err != nil {
				return err
			}
			return flipByte(6)(b)
		}, []Problem{ProblemRootMismatch, ProblemRemoved}},
		// The auditor kept the head of the first 4 entries.
		{"changed before the earlier head", flipByte(2), []Problem{ProblemInconsistent, ProblemRootMismatch}},
		{"changed after the earlier head", flipByte(6), []Problem{ProblemRootMismatch}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forChunks(t, func(t *testing.T) {
				ctx := context.Background()
				l, db, earlier := signedLog(t, 4)
				for i := 4; i < 8; i++ {
					if _, err := l.Append(ctx, sentEntry(i)); err != nil {
						t.Fatal(err)
					}
				}
				head, err := l.SignedHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tc.tamper != nil {
					tamper(t, db, tc.tamper)
				}
				if got := verifyOffline(t, l, head.Note, earlier.Note); !slices.Equal(got, tc.want) {
					t.Errorf("problems = %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// TestFrontierMatchesTlog holds the streaming root to tlog's tree hash over
// stored hashes, for every size up to a few full levels.
func TestFrontierMatchesTlog(t *testing.T) {
	var f frontier
	var stored memTree
	for n := int64(0); n <= 70; n++ {
		want := emptyRoot
		if n > 0 {
			var err error
			if want, err = tlog.TreeHash(n, stored); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.root(); got != want {
			t.Fatalf("root of %d entries: %x, want %x", n, got, want)
		}
		data := []byte(fmt.Sprintf("entry %d", n))
		hs, err := tlog.StoredHashes(n, data, stored)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		f.add(data)
	}
}

func TestVerifyRejectsForeignOrShrunkHeads(t *testing.T) {
	ctx := context.Background()
	l, _, big := signedLog(t, 6)
	other, _ := newTestLog(t)
	for i := range 3 {
		if _, err := other.Append(ctx, sentEntry(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	small, err := other.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := l.RawEntries(ctx, 0, 6)
	tests := []struct {
		name            string
		latest, earlier []byte
		want            Problem
	}{
		{"earlier head from a different tree", big.Note, small.Note, ProblemInconsistent},
		{"log shrank since the earlier head", small.Note, big.Note, ProblemRemoved},
		{"latest head corrupted", append([]byte("x"), big.Note...), nil, ProblemBadHead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Verify(ctx, VerifyInput{Entries: entries, Latest: tc.latest, Earlier: tc.earlier,
				Origin: testOrigin, Verifier: testVerifier(t), Proofs: l})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Problem == tc.want }) {
				t.Errorf("findings %v, want a %s", rep.Findings, tc.want)
			}
		})
	}
}

// TestVerifyOfflineEarlierHeadOfTheSameSize: an auditor who kept the latest
// head itself learns that the entries no longer hash to it.
func TestVerifyOfflineEarlierHeadOfTheSameSize(t *testing.T) {
	l, db, head := signedLog(t, 5)
	tamper(t, db, flipByte(2))
	if got, want := verifyOffline(t, l, head.Note, head.Note), []Problem{ProblemInconsistent, ProblemRootMismatch}; !slices.Equal(got, want) {
		t.Errorf("problems = %v, want %v", got, want)
	}
}

// verifyOffline verifies l's entries as an auditor holding only an export
// and the heads would, and returns the problems found in order.
func verifyOffline(t *testing.T, l *Log, latest, earlier []byte) []Problem {
	t.Helper()
	ctx := context.Background()
	entries, err := l.RawEntries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, VerifyInput{Entries: entries, Latest: latest, Earlier: earlier, Origin: testOrigin, Verifier: testVerifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []Problem
	for _, f := range rep.Findings {
		got = append(got, f.Problem)
	}
	return got
}
