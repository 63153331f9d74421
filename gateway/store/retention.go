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
func (s *Store) pruneSome(ctx context.Context, cutoff time.Time, upTo uint64) (pruned int, more bool, err error) {
	now := s.now().UTC()
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		pruned, more = 0, false
		inbox := tx.Bucket(bucketInbox)
		from := readCounter(tx, prunedCounter)
		last := from
		c := inbox.Cursor()
		type rewrite struct {
			key   []byte
			value []byte
		}
		var writes []rewrite
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq > upTo {
				break
			}
			if len(writes) == pruneBatch {
				more = true
				break
			}
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", seq, err)
			}
			if !m.ReceivedAt.Before(cutoff) {
				break
			}
			last = seq
			if !m.PrunedAt.IsZero() {
				continue
			}
			m.Envelope, m.Record, m.PrunedAt = nil, nil, now
			b, err := appendIncomingButSeq(nil, &m, recordAt{})
			if err != nil {
				return fmt.Errorf("inbox entry %d: %w", seq, err)
			}
			writes = append(writes, rewrite{append([]byte(nil), k...), withSeq(b, seq)})
		}
		for _, w := range writes {
			if err := inbox.Put(w.key, w.value); err != nil {
				return err
			}
		}
		pruned = len(writes)
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
