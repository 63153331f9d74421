package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// prunePos is where inbox pruning stands, and how it ages an entry.
//
// An entry's age is its time of arrival, unless that is out of order:
// stamped before the latest entry in order ahead of it (the clock went
// back) or after now (the clock was ahead when it arrived). Such an entry
// arrived after the entry in order before it and before the entry in
// order after it, at a time its clock cannot tell, and counts as received
// with the one after it, the later bound: it is never pruned before the
// retention has passed for certain, and in a busy inbox the next entry in
// order is close. While no entry in order follows it (up to the cursor
// pruning stops at), it is not due. Taking the entry before it instead
// would prune early, at once when that one is old or absent: a node whose
// clock ran an hour ahead would drop that hour's entries on its next run,
// before a system pulling the inbox had read them.
//
// A run of entries out of order, as a clock years ahead for a busy day
// makes, is read ahead once, across as many passes as it takes
// (planPrune), and then pruned across as many transactions, all of it
// counting as received with the entry in order that ends it. What was
// read ahead is not read again: an entry stamped after now when it was
// read stays out of order once the clock has passed its stamp, which was
// wrong all the same.
type prunePos struct {
	// through is the inbox position through which pruning is done: the
	// entries there are pruned, or were found pruned already.
	through uint64
	// latest is the latest time of arrival in order through there; zero
	// for none.
	latest time.Time
	// ahead is how far entries were read past through, all out of order
	// but the one at ahead when aheadAt is set: its time of arrival, which
	// they all count as. Zero aheadAt: no entry in order was found yet.
	ahead   uint64
	aheadAt time.Time
}

func readPrunePos(tx *bolt.Tx) prunePos {
	p := prunePos{
		through: readCounter(tx, prunedCounter), latest: readTimeCounter(tx, prunedTimeCounter),
		ahead: readCounter(tx, prunedAheadCounter), aheadAt: readTimeCounter(tx, prunedAheadTimeCounter),
	}
	if p.ahead <= p.through {
		// Nothing read ahead (or a run pruned through its end, or counters
		// from a release that read none ahead).
		p.ahead, p.aheadAt = p.through, time.Time{}
	}
	return p
}

func (p prunePos) write(tx *bolt.Tx) error {
	names := [...]string{prunedCounter, prunedTimeCounter, prunedAheadCounter, prunedAheadTimeCounter}
	values := [...]uint64{p.through, timeCounter(p.latest), p.ahead, timeCounter(p.aheadAt)}
	for i, name := range names {
		if err := putCounter(tx, name, values[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p prunePos) same(q prunePos) bool {
	return p.through == q.through && p.latest.Equal(q.latest) && p.ahead == q.ahead && p.aheadAt.Equal(q.aheadAt)
}

// firstKept is the earliest time the counters keep other than none: a time
// of arrival before it (a clock reset to 1970) is kept as it, which every
// cutoff is past as well.
var firstKept = time.Unix(0, 1).UTC()

// kept is t as the counters keep it.
func kept(t time.Time) time.Time {
	if t.Before(firstKept) {
		return firstKept
	}
	return t.UTC()
}

// timeCounter is t as a counter: 0 for none.
func timeCounter(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(kept(t).UnixNano())
}

// readTimeCounter reads a counter timeCounter wrote.
func readTimeCounter(tx *bolt.Tx, name string) time.Time {
	if ns := readCounter(tx, name); ns > 0 {
		return time.Unix(0, int64(ns)).UTC()
	}
	return time.Time{}
}

// planPrune is how far pruning can go from pos, with c over the inbox: to
// the last entry due at cutoff, no further than upTo, reading the times of
// arrival of at most pruneBatch entries with stamp and taking at most
// pruneBatch entries to prune (next.through, one transaction's share).
// more says whether it stopped at either bound rather than at an entry not
// due, upTo or the inbox's end.
func planPrune(c *bolt.Cursor, pos prunePos, cutoff, now time.Time, upTo uint64, stamp func([]byte) (time.Time, error)) (next prunePos, more bool, err error) {
	next = pos
	read, full := 0, pos.through+pruneBatch
	for {
		if next.aheadAt.IsZero() {
			if read == pruneBatch {
				return next, true, nil
			}
			n, err := readAhead(c, &next, now, upTo, pruneBatch-read, stamp)
			if err != nil {
				return pos, false, err
			}
			read += n
			if next.aheadAt.IsZero() {
				return next, read == pruneBatch, nil
			}
		}
		if next.ahead > upTo || !next.aheadAt.Before(cutoff) {
			// Not due, or ended past upTo (read ahead by a call with a
			// later one): held until a call with upTo past its end.
			return next, false, nil
		}
		if next.through == full {
			return next, true, nil
		}
		if next.through = min(next.ahead, full); next.through < next.ahead {
			return next, true, nil
		}
		next.latest, next.aheadAt = next.aheadAt, time.Time{}
	}
}

// readAhead reads times of arrival after next.ahead, at most budget of
// them and no further than upTo, up to the first in order: next.ahead is
// then its position and next.aheadAt its time; until one is found, the
// position of the last read. It returns how many it read.
func readAhead(c *bolt.Cursor, next *prunePos, now time.Time, upTo uint64, budget int, stamp func([]byte) (time.Time, error)) (int, error) {
	read := 0
	for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, next.ahead+1)); k != nil && read < budget; k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k)
		if seq > upTo {
			break
		}
		at, err := stamp(v)
		if err != nil {
			return read, fmt.Errorf("inbox entry %d: %w", seq, err)
		}
		read++
		next.ahead = seq
		if !at.Before(next.latest) && !at.After(now) {
			next.aheadAt = kept(at)
			break
		}
	}
	return read, nil
}
