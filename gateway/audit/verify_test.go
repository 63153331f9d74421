package audit

import (
	"bytes"
	"context"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
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
			if tc.tamper != nil {
				tamper(t, db, tc.tamper)
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
			if !slices.Equal(rep.Findings, tc.want) {
				t.Errorf("findings:\n got %v\nwant %v", rep.Findings, tc.want)
			}
		})
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
		{"entry deleted", deleteEntry(4), []Problem{ProblemRemoved}},
		{"two entries swapped", swapEntries(2, 5), []Problem{ProblemReordered, ProblemReordered}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l, db := newTestLog(t)
			appendN(t, l, 8)
			head, err := l.SignedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				tamper(t, db, tc.tamper)
			}
			entries, err := l.RawEntries(ctx, 0, l.Size())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, VerifyInput{Entries: entries, Latest: head.Note,
				Origin: testOrigin, Verifier: testVerifier(t)})
			if err != nil {
				t.Fatal(err)
			}
			var got []Problem
			for _, f := range rep.Findings {
				got = append(got, f.Problem)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems = %v, want %v (%v)", got, tc.want, rep.Findings)
			}
		})
	}
}

func TestVerifyRejectsForeignOrShrunkHeads(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	appendN(t, l, 6)
	big, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
