package audit

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// forged is an entry claiming position i that the log never held.
func forged(t *testing.T, i int64) []byte {
	t.Helper()
	e := sentEntry(int(i))
	e.Index, e.Kind, e.EnvelopeID = i, KindReceived, "forged"
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyFlagsEntriesThatAddToTheLog: an export whose every position
// holds its genuine entry still fails if it holds more, wherever the extra
// line sits and whatever it says. ReadJSONL refuses such a file first,
// naming the lines (TestReadJSONLRefusesARepeatedOrNegativeIndex); Verify
// reads Entries as it reads a node's, and reports what it would of one.
func TestVerifyFlagsEntriesThatAddToTheLog(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, genuine []RawEntry) []RawEntry
		want []Finding
	}{
		{"clean", func(_ *testing.T, g []RawEntry) []RawEntry { return g }, nil},
		{"forged line before the genuine one", func(t *testing.T, g []RawEntry) []RawEntry {
			return append([]RawEntry{{Position: 2, Data: forged(t, 2)}}, g...)
		}, []Finding{{Position: -1, Problem: ProblemRootMismatch}, {Position: 2, Problem: ProblemDuplicate}}},
		{"forged line after the genuine one", func(t *testing.T, g []RawEntry) []RawEntry {
			return append(g, RawEntry{Position: 2, Data: forged(t, 2)})
		}, []Finding{{Position: 2, Problem: ProblemDuplicate}}},
		{"genuine line repeated", func(_ *testing.T, g []RawEntry) []RawEntry {
			return append(g, g[3])
		}, []Finding{{Position: 3, Problem: ProblemDuplicate}}},
		{"negative position", func(t *testing.T, g []RawEntry) []RawEntry {
			return append([]RawEntry{{Position: -1, Data: forged(t, -1)}}, g...)
		}, []Finding{{Position: -1, Problem: ProblemOutOfRange}}},
		{"empty entry before the genuine one", func(_ *testing.T, g []RawEntry) []RawEntry {
			return append([]RawEntry{{Position: 2}}, g...) // the first is the one checked
		}, []Finding{{Position: -1, Problem: ProblemRootMismatch}, {Position: 2, Problem: ProblemDuplicate}, {Position: 2, Problem: ProblemRemoved}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l, _, head := signedLog(t, 6)
			genuine, err := l.RawEntries(ctx, 0, l.Size())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, VerifyInput{Entries: tc.edit(t, genuine), Latest: head.Note, Origin: testOrigin, Verifier: testVerifier(t)})
			if err != nil {
				t.Fatal(err)
			}
			if got := withoutDetail(rep.Findings); !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n got %v\nwant %v", rep.Findings, tc.want)
			}
			if rep.OK() != (tc.want == nil) {
				t.Errorf("OK() = %v with findings %v", rep.OK(), rep.Findings)
			}
		})
	}
}

// TestVerifyFlagsAReaderBreakingItsContract: a node's reader that returns
// an entry twice, out of order or outside the range asked for is reported,
// not skipped, even when the entries it returns in order hash to the head.
func TestVerifyFlagsAReaderBreakingItsContract(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, chunk []RawEntry) []RawEntry
		want []Problem
	}{
		{"in order", func(_ *testing.T, c []RawEntry) []RawEntry { return c }, nil},
		{"an entry twice", func(_ *testing.T, c []RawEntry) []RawEntry {
			return slices.Insert(c, 2, c[1])
		}, []Problem{ProblemDuplicate}},
		{"a forged entry after the genuine", func(t *testing.T, c []RawEntry) []RawEntry {
			return slices.Insert(c, 2, RawEntry{Position: c[1].Position, Data: forged(t, c[1].Position)})
		}, []Problem{ProblemDuplicate}},
		{"an entry outside the range asked for", func(t *testing.T, c []RawEntry) []RawEntry {
			return append(c, RawEntry{Position: -1, Data: forged(t, -1)})
		}, []Problem{ProblemOutOfRange}},
		{"two entries out of order", func(_ *testing.T, c []RawEntry) []RawEntry {
			c = slices.Clone(c)
			c[0], c[1] = c[1], c[0]
			return c
		}, []Problem{ProblemRootMismatch, ProblemOutOfOrder, ProblemRemoved}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l, _, head := signedLog(t, 6)
			read := func(ctx context.Context, start, end int64) ([]RawEntry, error) {
				c, err := l.RawEntries(ctx, start, end)
				if err == nil && start == 0 {
					c = tc.edit(t, c)
				}
				return c, err
			}
			rep, err := Verify(ctx, VerifyInput{Read: read, Latest: head.Note, Origin: testOrigin, Verifier: testVerifier(t)})
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

// TestReadJSONLRefusesARepeatedOrNegativeIndex: an auditor reading an
// export with a line added learns which line, before any verification.
func TestReadJSONLRefusesARepeatedOrNegativeIndex(t *testing.T) {
	ctx := context.Background()
	l, _, _ := signedLog(t, 4)
	genuine, err := l.RawEntries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		lines [][]byte
		want  string // in the error; "" for none
	}{
		{"genuine", rawData(genuine), ""},
		{"forged line first", append([][]byte{forged(t, 2)}, rawData(genuine)...), "line 4 states index 2, which line 1 already holds"},
		{"genuine line repeated", append(rawData(genuine), genuine[1].Data), "line 5 states index 1, which line 2 already holds"},
		{"negative index", append(rawData(genuine), forged(t, -1)), "line 5 states index -1, which no log has"},
		{"index beyond the others repeated", append(rawData(genuine), forged(t, 9), forged(t, 9)), "line 6 states index 9, which line 5 already holds"},
		// It said "token too long", naming no line. (From a review.)
		{"overlong line", append(rawData(genuine[:2]), bytes.Repeat([]byte("x"), maxExportLine+1)), "line 3 is longer than"},
		{"undecodable line where another states its index", append([][]byte{[]byte("{not json"), genuine[0].Data}, rawData(genuine[1:])...), "line 2 states index 0, which line 1 already holds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raws, _, err := ReadJSONL(bytes.NewReader(append(bytes.Join(tc.lines, []byte("\n")), '\n')))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ReadJSONL: %v", err)
			case tc.want == "" && len(raws) != len(tc.lines):
				t.Errorf("read %d entries of %d lines", len(raws), len(tc.lines))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("ReadJSONL error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func rawData(raws []RawEntry) [][]byte {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r.Data
	}
	return out
}

// withoutDetail drops the findings' details, which tests do not compare.
func withoutDetail(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		f.Detail = ""
		out = append(out, f)
	}
	return out
}
