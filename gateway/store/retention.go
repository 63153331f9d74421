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
	total := 0
	for {
		n, more, err := s.pruneSome(ctx, cutoff.UTC(), upTo)
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
func (s *Store) pruneSome(ctx context.Context, cutoff time.Time, upTo uint64) (pruned int, more bool, err error) {
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
		var writes, unordered []prunedEntry // unordered: stamped out of order, waiting for the next
		c := inbox.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq > upTo {
				break
			}
			if len(writes)+len(unordered) >= pruneBatch {
				more = true
				break
			}
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", seq, err)
			}
			if at := m.ReceivedAt; at.After(now) || at.Before(latest) {
				unordered = append(unordered, prunedEntry{seq, m})
				continue
			}
			if latest = m.ReceivedAt; !latest.Before(cutoff) {
				break
			}
			writes = append(append(writes, unordered...), prunedEntry{seq, m})
			unordered, last = unordered[:0], seq
		}
		for _, w := range writes {
			if !w.m.PrunedAt.IsZero() {
				continue
			}
			w.m.Envelope, w.m.Record, w.m.PrunedAt = nil, nil, now
			b, err := appendIncomingButSeq(nil, &w.m, recordAt{})
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", w.seq, err)
			}
			if err := inbox.Put(binary.BigEndian.AppendUint64(nil, w.seq), withSeq(b, w.seq)); err != nil {
				return err
			}
			pruned++
		}
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

// prunedEntry is an inbox entry PruneInbox is about to prune.
type prunedEntry struct {
	seq uint64
	m   Incoming
}
