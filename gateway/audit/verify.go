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
	// ProblemDuplicate: more than one entry claims Position. A log holds one
	// entry a position, so the extra one was added, even if its bytes match.
	ProblemDuplicate Problem = "duplicate"
	// ProblemOutOfRange: an entry claims a position no log has (a negative
	// one), or the reader returned one outside the range asked for.
	ProblemOutOfRange Problem = "out-of-range"
	// ProblemOutOfOrder: the reader returned the entry at Position after a
	// later one, breaking VerifyInput.Read's contract; it is counted missing.
	ProblemOutOfOrder Problem = "out-of-order"
)

// Finding is one problem, at a position in the log where it has one
// (Position is -1 for problems with heads as a whole; an out-of-range
// finding keeps the negative position claimed and names it in Detail).
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
	// Entries are the log's entries as fetched, with their positions, one an
	// entry: an export as ReadJSONL reads it, which refuses a file that
	// repeats a position or states a negative one, naming its lines. Verify
	// reads them as it reads Read's, so one given twice, or a negative one,
	// is a finding all the same, among the positions the head covers.
	Entries []RawEntry
	// Read, when set instead of Entries, reads the entries in [start, end)
	// in position order, a missing one left out; Verify then holds one
	// chunk of the log at a time, however long it is. Log.RawEntries is one.
	// An entry it returns twice, out of order or out of range is a finding.
	Read func(ctx context.Context, start, end int64) ([]RawEntry, error)
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

// verifyChunk is how many entries Verify reads at a time; tests shrink it
// to cross chunk boundaries.
var verifyChunk int64 = 4096

// Verify checks a log's entries against its latest signed head and, if
// given, the earlier head the auditor kept. It recomputes the tree from the
// entries (which proves every entry's inclusion at once when the root
// matches), and when it does not match asks the proof source for each
// entry's inclusion proof to report which positions were rewritten, removed
// or reordered. An entry that adds to the log (a second one at a position
// the head covers, or one at a position no log has) is a finding too, even
// if every position holds its genuine entry. The error is for failures to
// verify at all (a proof source that is unreachable); tampering is
// reported in the Report.
func Verify(ctx context.Context, in VerifyInput) (Report, error) {
	r, err := verify(ctx, in)
	slices.SortStableFunc(r.Findings, func(a, b Finding) int { return cmp.Compare(a.Position, b.Position) })
	return r, err
}

func verify(ctx context.Context, in VerifyInput) (Report, error) {
	var r Report
	latest, err := ParseHead(in.Latest, in.Origin, in.Verifier)
	if err != nil {
		r.Findings = append(r.Findings, Finding{Position: -1, Problem: ProblemBadHead, Detail: "latest: " + err.Error()})
		return r, nil
	}
	r.Latest, r.Checked = latest, latest.Size
	read := in.Read
	if read == nil {
		read, r.Unsigned = readEntries(in.Entries, latest.Size)
	}

	var earlier *Head
	if in.Earlier != nil {
		f, h, err := checkEarlier(ctx, in, latest)
		if err != nil {
			return r, err
		}
		r.Earlier = h
		r.Findings = append(r.Findings, f...)
		if h != nil && f == nil && in.Proofs == nil && h.Size <= latest.Size {
			earlier = h // checked against the entries below
		}
	}
	// One pass computes the latest root, and the earlier one on the way.
	var tree frontier
	complete := true // no entry missing so far
	checkEarlierRoot := func() {
		if complete && tree.root() != earlier.Root {
			r.Findings = append(r.Findings, Finding{Position: -1, Problem: ProblemInconsistent,
				Detail: fmt.Sprintf("entries 0..%d do not hash to the earlier head's root", earlier.Size-1)})
		}
	}
	stray := func(f Finding) { r.Findings = append(r.Findings, f) }
	err = walk(ctx, read, latest.Size, stray, func(pos int64, data []byte) error {
		if earlier != nil && pos == earlier.Size {
			checkEarlierRoot()
		}
		if data == nil {
			complete = false
		} else if complete {
			tree.add(data)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if earlier != nil && earlier.Size == latest.Size {
		checkEarlierRoot()
	}
	if complete && tree.root() == latest.Root {
		return r, nil // with any stray entries found on the way
	}
	located, err := locate(ctx, in.Proofs, read, latest)
	if err != nil {
		return r, err
	}
	switch {
	case len(located) == 0:
		located = []Finding{{Position: -1, Problem: ProblemRootMismatch,
			Detail: fmt.Sprintf("entries do not hash to the root of head %d", latest.Size)}}
	case in.Proofs == nil:
		// Without proofs locate places only entries missing or stating
		// another position; any other may be changed too, unseen.
		located = append(located, Finding{Position: -1, Problem: ProblemRootMismatch,
			Detail: fmt.Sprintf("entries do not hash to the root of head %d, and without the node's proofs the others are not checked one by one: any may be changed too", latest.Size)})
	}
	r.Findings = append(r.Findings, located...)
	return r, nil
}

// readEntries serves entries as VerifyInput.Read does, in position order
// (of two at one position, the one given first comes first, and is the
// one checked), and counts those at or beyond size, which no read asks
// for. The read from position 0 returns any entry at a negative position
// too. What is wrong with the entries, walk reports as it does of any
// reader: one at a position already read, or outside the range asked for.
func readEntries(entries []RawEntry, size int64) (func(context.Context, int64, int64) ([]RawEntry, error), int64) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b RawEntry) int { return cmp.Compare(a.Position, b.Position) })
	at := func(pos int64) int { // the first entry at pos or after
		i, _ := slices.BinarySearchFunc(sorted, pos, func(e RawEntry, pos int64) int { return cmp.Compare(e.Position, pos) })
		return i
	}
	read := func(_ context.Context, start, end int64) ([]RawEntry, error) {
		from := at(start)
		if start == 0 {
			from = 0
		}
		return sorted[from:at(end)], nil
	}
	return read, int64(len(sorted) - at(size))
}

// walk calls fn for each position below size in order, with its entry's
// data or nil where it is missing, reading verifyChunk entries at a time.
// An entry read breaking Read's contract (repeated, out of order or out of
// the range asked for) is passed to stray, if set, and otherwise skipped.
func walk(ctx context.Context, read func(context.Context, int64, int64) ([]RawEntry, error), size int64, stray func(Finding), fn func(pos int64, data []byte) error) error {
	for start := int64(0); start < size; start += verifyChunk {
		end := min(start+verifyChunk, size)
		chunk, err := read(ctx, start, end)
		if err != nil {
			return fmt.Errorf("read entries %d..%d: %w", start, end-1, err)
		}
		next := start
		for i, e := range chunk {
			if e.Position < next || e.Position >= end {
				if stray != nil {
					stray(strayFinding(chunk[:i], e.Position, start, end))
				}
				continue // counted missing if it was not read in order
			}
			for ; next < e.Position; next++ {
				if err := fn(next, nil); err != nil {
					return err
				}
			}
			if err := fn(next, e.Data); err != nil {
				return err
			}
			next++
		}
		for ; next < end; next++ {
			if err := fn(next, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// strayFinding names what is wrong with an entry at pos that a read of
// [start, end) returned after those in before, out of order.
func strayFinding(before []RawEntry, pos, start, end int64) Finding {
	if pos < start || pos >= end {
		return Finding{Position: pos, Problem: ProblemOutOfRange,
			Detail: fmt.Sprintf("read of entries %d..%d returned position %d", start, end-1, pos)}
	}
	if slices.ContainsFunc(before, func(e RawEntry) bool { return e.Position == pos }) {
		return Finding{Position: pos, Problem: ProblemDuplicate,
			Detail: fmt.Sprintf("read of entries %d..%d returned position %d twice", start, end-1, pos)}
	}
	return Finding{Position: pos, Problem: ProblemOutOfOrder,
		Detail: fmt.Sprintf("read of entries %d..%d returned position %d after a later one", start, end-1, pos)}
}

// frontier computes the RFC 6962 root of entries added in order, keeping
// only the roots of its complete subtrees: O(log n) hashes for n entries.
type frontier struct {
	hashes []tlog.Hash // roots of complete subtrees, largest first
	sizes  []int64
}

func (f *frontier) add(data []byte) {
	h, size := tlog.RecordHash(data), int64(1)
	for n := len(f.sizes); n > 0 && f.sizes[n-1] == size; n = len(f.sizes) {
		h, size = tlog.NodeHash(f.hashes[n-1], h), 2*size
		f.hashes, f.sizes = f.hashes[:n-1], f.sizes[:n-1]
	}
	f.hashes, f.sizes = append(f.hashes, h), append(f.sizes, size)
}

// root folds the subtrees from the right, as RFC 6962 splits a tree at the
// largest power of two below its size.
func (f *frontier) root() tlog.Hash {
	if len(f.hashes) == 0 {
		return emptyRoot
	}
	h := f.hashes[len(f.hashes)-1]
	for i := len(f.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.hashes[i], h)
	}
	return h
}

// checkEarlier parses the kept head and, given a proof source, checks its
// consistency with the latest by proof; without one, Verify compares its
// root with the entries'.
func checkEarlier(ctx context.Context, in VerifyInput, latest Head) ([]Finding, *Head, error) {
	earlier, err := ParseHead(in.Earlier, in.Origin, in.Verifier)
	if err != nil {
		return []Finding{{Position: -1, Problem: ProblemBadHead, Detail: "earlier: " + err.Error()}}, nil, nil
	}
	if earlier.Size > latest.Size {
		return []Finding{{Position: latest.Size, Problem: ProblemRemoved,
			Detail: fmt.Sprintf("log shrank from %d to %d entries", earlier.Size, latest.Size)}}, &earlier, nil
	}
	if in.Proofs == nil {
		return nil, &earlier, nil
	}
	p, err := in.Proofs.ConsistencyProof(ctx, earlier.Size, latest.Size)
	if err != nil {
		return nil, &earlier, fmt.Errorf("fetch consistency proof %d..%d: %w", earlier.Size, latest.Size, err)
	}
	if err := CheckConsistency(p, earlier, latest); err != nil {
		return []Finding{{Position: -1, Problem: ProblemInconsistent, Detail: err.Error()}}, &earlier, nil
	}
	return nil, &earlier, nil
}

// locate finds which positions do not match the head, using the node's
// inclusion proofs: a missing entry is removed, an entry that proves at the
// position its own index names is reordered, any other is rewritten.
func locate(ctx context.Context, src ProofSource, read func(context.Context, int64, int64) ([]RawEntry, error), head Head) ([]Finding, error) {
	var out []Finding
	err := walk(ctx, read, head.Size, nil, func(pos int64, data []byte) error {
		if data == nil {
			out = append(out, Finding{Position: pos, Problem: ProblemRemoved})
			return nil
		}
		if src == nil {
			if e, err := ParseEntry(data); err == nil && e.Index != pos {
				out = append(out, Finding{Position: pos, Problem: ProblemReordered, BelongsAt: e.Index})
			}
			return nil
		}
		ok, err := provesAt(ctx, src, data, pos, head)
		if err != nil || ok {
			return err
		}
		f := Finding{Position: pos, Problem: ProblemRewritten}
		if e, err := ParseEntry(data); err == nil && e.Index != pos && e.Index >= 0 && e.Index < head.Size {
			if ok, err := provesAt(ctx, src, data, e.Index, head); err != nil {
				return err
			} else if ok {
				f = Finding{Position: pos, Problem: ProblemReordered, BelongsAt: e.Index}
			}
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

func provesAt(ctx context.Context, src ProofSource, data []byte, pos int64, head Head) (bool, error) {
	p, err := src.InclusionProof(ctx, pos, head.Size)
	if err != nil {
		return false, fmt.Errorf("fetch inclusion proof for entry %d: %w", pos, err)
	}
	return CheckInclusion(p, pos, data, head) == nil, nil
}

// Audit verifies the log against its recent signed head (RecentHead with no
// least size) and an earlier head the auditor kept, which may be nil. It is
// what POST /api/v1/audit/verify runs on a node. Its head comes by the same
// rule as every head served on demand, at most one signed a HeadInterval,
// so an auditor polling verify costs a busy node no more signatures and
// synced writes than one polling GET /api/v1/audit/head. Every entry the
// head covers is checked; those the log took since it was signed are
// counted in Report.Unsigned, for a later visit to check.
func (l *Log) Audit(ctx context.Context, earlier []byte, v note.Verifier) (Report, error) {
	latest, err := l.RecentHead(ctx, 0)
	if err != nil {
		return Report{}, err
	}
	r, err := Verify(ctx, VerifyInput{Read: l.RawEntries, Latest: latest.Note, Earlier: earlier,
		Origin: l.cfg.Origin, Verifier: v, Proofs: l})
	r.Unsigned = max(l.Size()-latest.Size, 0)
	return r, err
}
