package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// prunedCounter is the inbox position through which PruneInbox has
// looked, so that each run starts where the last one stopped.
const prunedCounter = "inbox/pruned"

// pruneBatch bounds the entries one PruneInbox transaction rewrites: every
// other writer of the store waits for it.
const pruneBatch = 1000

// PruneInbox drops the personal data of inbox entries received before
// cutoff: the envelope and the record. An entry keeps its position, ids,
// type, time of arrival and the receipt this node signed, and gains
// PrunedAt, so that cursors, a redelivery of the envelope (a duplicate,
// answered with its original receipt) and the audit log's references to it
// stay valid.
//
// Entries are taken in arrival order, no further than position upTo (a
// webhook's acknowledged cursor: what the provincial system has not taken
// yet is not pruned), and stop at the first one received at or after
// cutoff. It returns how many entries it pruned. Each transaction rewrites
// at most a thousand entries and records how far it got, so a large
// backlog holds no writer for long and is not looked at again.
func (s *Store) PruneInbox(ctx context.Context, cutoff time.Time, upTo uint64) (int, error) {
	return s.PruneInboxAnd(ctx, cutoff, upTo, nil)
}

// PruneInboxAnd is PruneInbox with more writes in each of its
// transactions: also gets the entries the transaction prunes, as they
// were before, and an error from it fails the call with that
// transaction's pruning undone.
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
// An entry's age is read from its arrival order as much as from its
// clock. One stamped before an entry that arrived ahead of it (the clock
// went back) or after now (the clock was ahead when it arrived) was
// received at some time between its neighbours' arrivals: it is pruned
// with the next entry in order that is due, never before, and does not
// hold back the entries after it.
func (s *Store) pruneSome(ctx context.Context, cutoff time.Time, upTo uint64, also func(*bolt.Tx, []Incoming) error) (pruned int, more bool, err error) {
	now := s.now().UTC()
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		pruned, more = 0, false
		inbox := tx.Bucket(bucketInbox)
		from := readCounter(tx, prunedCounter)
		last := from
		var latest time.Time // the latest arrival up to here
		if v := inbox.Get(binary.BigEndian.AppendUint64(nil, from)); v != nil {
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", from, err)
			}
			latest = m.ReceivedAt
		}
		var due, unordered []Incoming // unordered: stamped out of order, waiting for the next
		c := inbox.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq > upTo {
				break
			}
			if len(due)+len(unordered) >= pruneBatch {
				more = true
				break
			}
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", seq, err)
			}
			if at := m.ReceivedAt; at.After(now) || at.Before(latest) {
				unordered = append(unordered, m)
				continue
			}
			if latest = m.ReceivedAt; !latest.Before(cutoff) {
				break
			}
			due = append(append(due, unordered...), m)
			unordered, last = unordered[:0], seq
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
		if last == from {
			return nil
		}
		return tx.Bucket(bucketCounters).Put([]byte(prunedCounter), binary.BigEndian.AppendUint64(nil, last))
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune inbox: %w", err)
	}
	return pruned, more, nil
}
