package audit

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// appendedHashes computes the tree hashes that the entries of one append
// complete, and keeps them for the append to store as one run: entries
// appended together mostly need hashes their predecessors just computed,
// and each read from the buckets seeks from a root. The hashes of
// consecutive entries are stored at consecutive indexes, so those kept form
// one range from first.
//
// It is tlog.StoredHashesForRecordHash without its allocations (the
// answer, the indexes, the hashes read), two or three per entry; the
// tests hold the hashes it stores to tlog's.
type appendedHashes struct {
	bucket hashReader
	first  int64
	hs     []tlog.Hash
}

// add keeps the hashes entry n stores from its StoredHashIndex on: its
// leaf hash first and then those of the subtrees it completes.
func (r *appendedHashes) add(n int64, leaf tlog.Hash) error {
	base := tlog.StoredHashIndex(0, n)
	switch {
	case len(r.hs) == 0:
		r.first = base
	case base != r.first+int64(len(r.hs)):
		// The append stores r's hashes as one run.
		return fmt.Errorf("tree hashes of entry %d at %d do not follow those kept up to %d", n, base, r.first+int64(len(r.hs)))
	}
	r.hs = append(r.hs, leaf)
	h := leaf
	// Each trailing 1 bit of n completes a subtree, whose left half is the
	// subtree stored before at the level below.
	for i := range bits.TrailingZeros64(uint64(n + 1)) {
		left, err := r.read(tlog.StoredHashIndex(i, n>>uint(i)-1))
		if err != nil {
			return err
		}
		h = tlog.NodeHash(left, h)
		r.hs = append(r.hs, h)
	}
	return nil
}

// read returns the hash stored at index x, from those kept if it is one.
func (r *appendedHashes) read(x int64) (tlog.Hash, error) {
	if x >= r.first && x-r.first < int64(len(r.hs)) {
		return r.hs[x-r.first], nil
	}
	return r.bucket.readHash(x)
}
