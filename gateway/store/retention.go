package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// prunedCounter is the inbox position through which PruneInbox has
// looked, so that each run starts where the last one stopped, and
// prunedTimeCounter the time of arrival (Unix nanoseconds) the entry there
// counted as, which the entries after it are held to (pruneSome).
const (
	prunedCounter     = "inbox/pruned"
	prunedTimeCounter = "inbox/pruned-time"
)

// pruneBatch bounds the entries one PruneInbox transaction rewrites: every
// other writer of the store waits for it.
const pruneBatch = 1000

// PruneInbox drops the personal data of inbox entries received before
// cutoff: the envelope and the record. An entry keeps its position, ids,
// type, time of arrival, the receipt this node signed and the envelope's
// header digest, and gains PrunedAt, so that cursors, a redelivery of the
// envelope (still known for a duplicate, and told from another envelope
// under its id) and the audit log's references to it stay valid.
//
// Entries are taken in arrival order, no further than position upTo (a
// webhook's cursor: what the push has not moved past is not pruned), up
// to the first one not due (see pruneSome for how its age is read). It
// returns how many entries it pruned. Each transaction rewrites at most a
// thousand entries and records how far it got, so a large backlog holds
// no writer for long and is not looked at again.
func (s *Store) PruneInbox(ctx context.Context, cutoff time.Time, upTo uint64) (int, error) {
	return s.PruneInboxAnd(ctx, cutoff, upTo, nil)
}

// PruneInboxAnd is PruneInbox with more writes in each of its
// transactions: also gets the entries the transaction prunes, as they
// were before, ahead of their rewrites. An error from it ends the call
// with that transaction's entries not rewritten; what also wrote before
// failing stays, as in any write of a group commit.
func (s *Store) PruneInboxAnd(ctx context.Context, cutoff time.Time, upTo uint64, also func(tx *bolt.Tx, pruned []Incoming) error) (int, error) {
	total := 0
	for {
		n, more, err := s.pruneSome(ctx, cutoff.UTC(), upTo, also)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// pruneSome prunes up to pruneBatch entries in one commit and says whether
// more may be due.
//
// An entry's age is its time of arrival, unless that is out of order:
// stamped before an entry that arrived ahead of it (the clock went back)
// or after now (the clock was ahead when it arrived). Such an entry
// arrived after the one ahead of it, at a time its clock cannot tell, and
// counts as received with it: it goes when that one is due, perhaps early
// by the length of the clock's fault (at once when it is the inbox's
// first), where waiting for a later entry in order could hold back the
// whole inbox behind a clock years ahead.
func (s *Store) pruneSome(ctx context.Context, cutoff time.Time, upTo uint64, also func(*bolt.Tx, []Incoming) error) (pruned int, more bool, err error) {
	now := s.now().UTC()
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		pruned, more = 0, false
		inbox := tx.Bucket(bucketInbox)
		from := readCounter(tx, prunedCounter)
		var latest time.Time // the latest arrival in order up to here
		if ns := readCounter(tx, prunedTimeCounter); ns > 0 {
			latest = time.Unix(0, int64(ns)).UTC()
		}
		var due []Incoming
		c := inbox.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil; k, v = c.Next() {
			if seq := binary.BigEndian.Uint64(k); seq > upTo {
				break
			}
			if len(due) == pruneBatch {
				more = true
				break
			}
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %x: %w", k, err)
			}
			if at := m.ReceivedAt; !at.Before(latest) && !at.After(now) {
				latest = at
			}
			if !latest.Before(cutoff) {
				break
			}
			due = append(due, m)
		}
		// also writes first, so that its error leaves the entries whole: a
		// failing write in a group commit is not rolled back.
		var before []Incoming
		for _, m := range due {
			if m.PrunedAt.IsZero() {
				before = append(before, m)
			}
		}
		if also != nil && len(before) > 0 {
			if err := also(tx, before); err != nil {
				return err
			}
		}
		for _, m := range before {
			m.Envelope, m.Record, m.PrunedAt = nil, nil, now
			b, err := appendIncomingButSeq(nil, &m, recordAt{})
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", m.Seq, err)
			}
			if err := inbox.Put(binary.BigEndian.AppendUint64(nil, m.Seq), withSeq(b, m.Seq)); err != nil {
				return err
			}
		}
		pruned = len(before)
		if len(due) == 0 {
			return nil
		}
		if err := putCounter(tx, prunedTimeCounter, uint64(max(latest.UnixNano(), 0))); err != nil {
			return err
		}
		return putCounter(tx, prunedCounter, due[len(due)-1].Seq)
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune inbox: %w", err)
	}
	return pruned, more, nil
}
