package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Problem names what Verify found wrong.
type Problem string

// The problems Verify reports.
const (
	// ProblemBadHead: a signed head does not verify or does not parse.
	ProblemBadHead Problem = "bad-head"
	// ProblemInconsistent: the earlier head is not a prefix of the latest one.
	ProblemInconsistent Problem = "inconsistent"
	// ProblemRewritten: the entry at Position is not the one the head commits to.
	ProblemRewritten Problem = "rewritten"
	// ProblemRemoved: there is no entry at Position.
	ProblemRemoved Problem = "removed"
	// ProblemReordered: the entry at Position belongs at BelongsAt.
	ProblemReordered Problem = "reordered"
	// ProblemRootMismatch: the entries do not hash to the head's root and no
	// proof source was given to locate why.
	ProblemRootMismatch Problem = "root-mismatch"
)

// Finding is one problem, at a position in the log where it has one
// (Position is -1 for problems with heads as a whole).
type Finding struct {
	Position  int64   `json:"position"`
	Problem   Problem `json:"problem"`
	BelongsAt int64   `json:"belongs_at,omitempty"`
	Detail    string  `json:"detail,omitempty"`
}

// String reads like "entry 17: rewritten".
func (f Finding) String() string {
	s := fmt.Sprintf("entry %d: %s", f.Position, f.Problem)
	if f.Position < 0 {
		s = string(f.Problem)
	}
	if f.Problem == ProblemReordered {
		s += fmt.Sprintf(" (belongs at %d)", f.BelongsAt)
	}
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	return s
}

// Report is the outcome of Verify.
type Report struct {
	// Latest is the head the entries were checked against.
	Latest Head `json:"latest"`
	// Earlier is the head the auditor kept, if one was given.
	Earlier *Head `json:"earlier,omitempty"`
	// Checked is how many entries were checked (the latest head's size).
	Checked int64 `json:"checked"`
	// Unsigned counts entries beyond the latest head, not yet covered by any
	// head and so not checked.
	Unsigned int64 `json:"unsigned"`
	// Findings are the problems, ordered by position.
	Findings []Finding `json:"findings,omitempty"`
}

// OK reports whether nothing was found.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// VerifyInput is what an auditor holds.
type VerifyInput struct {
	// Entries are the log's entries as fetched, with their positions.
	Entries []RawEntry
	// Latest is the node's latest signed head.
	Latest []byte
	// Earlier is a signed head the auditor kept from an earlier visit; optional.
	Earlier []byte
	// Origin and Verifier identify the log and its checkpoint key.
	Origin   string
	Verifier note.Verifier
	// Proofs, when set, supplies consistency and inclusion proofs, which lets
	// Verify check the earlier head without all its entries and name the
	// positions of tampered entries. Without it Verify still detects any
	// change, by recomputing the root.
	Proofs ProofSource
}

// Verify checks a log's entries against its latest signed head and, if
// given, the earlier head the auditor kept. It recomputes the tree from the
// entries (which proves every entry's inclusion at once when the root
// matches), and when it does not match asks the proof source for each
// entry's inclusion proof to report which positions were rewritten, removed
// or reordered. The error is for failures to verify at all (a proof source
// that is unreachable); tampering is reported in the Report.
func Verify(ctx context.Context, in VerifyInput) (Report, error) {
	var r Report
	latest, err := ParseHead(in.Latest, in.Origin, in.Verifier)
	if err != nil {
		r.Findings = append(r.Findings, Finding{Position: -1, Problem: ProblemBadHead, Detail: "latest: " + err.Error()})
		return r, nil
	}
	r.Latest, r.Checked = latest, latest.Size
	byPos, unsigned := positions(in.Entries, latest.Size)
	r.Unsigned = unsigned

	if in.Earlier != nil {
		f, err := checkEarlier(ctx, in, latest, byPos, &r)
		if err != nil {
			return r, err
		}
		r.Findings = append(r.Findings, f...)
	}
	if root, ok := rootOf(byPos, latest.Size); ok && root == latest.Root {
		return r, nil
	}
	located, err := locate(ctx, in.Proofs, byPos, latest)
	if err != nil {
		return r, err
	}
	if len(located) == 0 {
		located = []Finding{{Position: -1, Problem: ProblemRootMismatch,
			Detail: fmt.Sprintf("entries do not hash to the root of head %d", latest.Size)}}
	}
	r.Findings = append(r.Findings, located...)
	slices.SortStableFunc(r.Findings, func(a, b Finding) int { return cmp.Compare(a.Position, b.Position) })
	return r, nil
}

// positions indexes entries by position below size (nil where missing) and
// counts those beyond.
func positions(entries []RawEntry, size int64) ([][]byte, int64) {
	byPos := make([][]byte, size)
	var unsigned int64
	for _, e := range entries {
		switch {
		case e.Position >= size:
			unsigned++
		case e.Position >= 0:
			byPos[e.Position] = e.Data
		}
	}
	return byPos, unsigned
}

// memTree is a whole tree's stored hashes in memory, built from entries.
type memTree []tlog.Hash

func (m memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not computed", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

// buildTree hashes the first n entries; ok is false if one is missing.
func buildTree(byPos [][]byte, n int64) (memTree, bool) {
	m := make(memTree, 0, tlog.StoredHashCount(n))
	for i := range n {
		if byPos[i] == nil {
			return nil, false
		}
		hs, err := tlog.StoredHashes(i, byPos[i], m)
		if err != nil {
			return nil, false
		}
		m = append(m, hs...)
	}
	return m, true
}

func rootOf(byPos [][]byte, n int64) (tlog.Hash, bool) {
	m, ok := buildTree(byPos, n)
	if !ok {
		return tlog.Hash{}, false
	}
	h, err := treeHash(n, m)
	return h, err == nil
}

// checkEarlier verifies the kept head and its consistency with the latest,
// by proof when a source is given, else by recomputing its root from the
// entries.
func checkEarlier(ctx context.Context, in VerifyInput, latest Head, byPos [][]byte, r *Report) ([]Finding, error) {
	earlier, err := ParseHead(in.Earlier, in.Origin, in.Verifier)
	if err != nil {
		return []Finding{{Position: -1, Problem: ProblemBadHead, Detail: "earlier: " + err.Error()}}, nil
	}
	r.Earlier = &earlier
	if earlier.Size > latest.Size {
		return []Finding{{Position: latest.Size, Problem: ProblemRemoved,
			Detail: fmt.Sprintf("log shrank from %d to %d entries", earlier.Size, latest.Size)}}, nil
	}
	inconsistent := func(err error) []Finding {
		return []Finding{{Position: -1, Problem: ProblemInconsistent, Detail: err.Error()}}
	}
	if in.Proofs != nil {
		p, err := in.Proofs.ConsistencyProof(ctx, earlier.Size, latest.Size)
		if err != nil {
			return nil, fmt.Errorf("fetch consistency proof %d..%d: %w", earlier.Size, latest.Size, err)
		}
		if err := CheckConsistency(p, earlier, latest); err != nil {
			return inconsistent(err), nil
		}
		return nil, nil
	}
	if root, ok := rootOf(byPos, earlier.Size); ok && root != earlier.Root {
		return inconsistent(fmt.Errorf("entries 0..%d do not hash to the earlier head's root", earlier.Size-1)), nil
	}
	return nil, nil
}

// locate finds which positions do not match the head, using the node's
// inclusion proofs: a missing entry is removed, an entry that proves at the
// position its own index names is reordered, any other is rewritten.
func locate(ctx context.Context, src ProofSource, byPos [][]byte, head Head) ([]Finding, error) {
	var out []Finding
	for pos, data := range byPos {
		pos := int64(pos)
		if data == nil {
			out = append(out, Finding{Position: pos, Problem: ProblemRemoved})
			continue
		}
		if src == nil {
			if e, err := ParseEntry(data); err == nil && e.Index != pos {
				out = append(out, Finding{Position: pos, Problem: ProblemReordered, BelongsAt: e.Index})
			}
			continue
		}
		ok, err := provesAt(ctx, src, data, pos, head)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		f := Finding{Position: pos, Problem: ProblemRewritten}
		if e, err := ParseEntry(data); err == nil && e.Index != pos && e.Index >= 0 && e.Index < head.Size {
			if ok, err := provesAt(ctx, src, data, e.Index, head); err != nil {
				return nil, err
			} else if ok {
				f = Finding{Position: pos, Problem: ProblemReordered, BelongsAt: e.Index}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func provesAt(ctx context.Context, src ProofSource, data []byte, pos int64, head Head) (bool, error) {
	p, err := src.InclusionProof(ctx, pos, head.Size)
	if err != nil {
		return false, fmt.Errorf("fetch inclusion proof for entry %d: %w", pos, err)
	}
	return CheckInclusion(p, pos, data, head) == nil, nil
}

// Audit verifies the log against its own latest signed head (signing one if
// the tree grew) and an earlier head the auditor kept, which may be nil. It
// is what `laborlink audit verify` runs on a node.
func (l *Log) Audit(ctx context.Context, earlier []byte, v note.Verifier) (Report, error) {
	latest, err := l.SignedHead(ctx)
	if err != nil {
		return Report{}, err
	}
	entries, err := l.RawEntries(ctx, 0, latest.Size)
	if err != nil {
		return Report{}, err
	}
	return Verify(ctx, VerifyInput{Entries: entries, Latest: latest.Note, Earlier: earlier,
		Origin: l.cfg.Origin, Verifier: v, Proofs: l})
}
