package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// The counters keep where PruneInbox stands (prunePos), so that each run
// starts where the last one stopped and reads no entry twice: prunedCounter
// is the inbox position through which it is done, prunedTimeCounter the
// latest arrival in order through there, prunedAheadCounter how far it has
// read past that and prunedAheadTimeCounter the time the entries read past
// it count as received (zero while not known yet). Times are Unix
// nanoseconds.
const (
	prunedCounter          = "inbox/pruned"
	prunedTimeCounter      = "inbox/pruned-time"
	prunedAheadCounter     = "inbox/pruned-ahead"
	prunedAheadTimeCounter = "inbox/pruned-ahead-time"
)

// pruneBatch bounds the entries one PruneInbox transaction rewrites, as
// every other writer of the store waits for it, and the entries one of its
// read transactions reads, as a commit that grows the file waits for every
// reader.
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
// to the first one not due, or not known to be due (see prunePos for how
// an entry stamped out of order is aged: never before it is due). It
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
	return s.pruneInbox(ctx, cutoff, upTo, also, storedReceivedAt)
}

// pruneInbox is PruneInboxAnd reading the entries' times of arrival with
// stamp, which tests count.
func (s *Store) pruneInbox(ctx context.Context, cutoff time.Time, upTo uint64, also func(*bolt.Tx, []Incoming) error, stamp func([]byte) (time.Time, error)) (int, error) {
	total := 0
	for {
		n, more, err := s.pruneSome(ctx, cutoff.UTC(), upTo, also, stamp)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// pruneSome moves pruning on by one plan (planPrune), read in a read
// transaction so that writers wait for none of its reading, and prunes
// what the plan found due in one commit, unless another run moved first.
// It says whether more may be due.
func (s *Store) pruneSome(ctx context.Context, cutoff time.Time, upTo uint64, also func(*bolt.Tx, []Incoming) error, stamp func([]byte) (time.Time, error)) (pruned int, more bool, err error) {
	now := s.now().UTC()
	var pos, next prunePos
	err = s.view(func(tx *bolt.Tx) error {
		pos = readPrunePos(tx)
		var err error
		next, more, err = planPrune(tx.Bucket(bucketInbox).Cursor(), pos, cutoff, now, upTo, stamp)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune inbox: %w", err)
	}
	if next.same(pos) {
		return 0, false, nil
	}
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		if !readPrunePos(tx).same(pos) {
			more = true // another run moved first: plan again from where it stopped
			return nil
		}
		var err error
		pruned, err = prune(tx, pos.through, next.through, now, also)
		if err != nil {
			return err
		}
		return next.write(tx)
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune inbox: %w", err)
	}
	return pruned, more, nil
}

// prune drops the envelopes and records of the inbox entries after
// position from through position to, those not pruned already, and
// returns how many. Every entry is read and encoded again before
// anything is written, and also writes first, so that an error leaves the
// entries whole: a failing write in a group commit is not rolled back.
func prune(tx *bolt.Tx, from, to uint64, now time.Time, also func(*bolt.Tx, []Incoming) error) (int, error) {
	inbox := tx.Bucket(bucketInbox)
	var before []Incoming
	var values [][]byte
	c := inbox.Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil && binary.BigEndian.Uint64(k) <= to; k, v = c.Next() {
		m, err := decodeIncoming(v)
		if err != nil {
			return 0, fmt.Errorf("inbox entry %x: %w", k, err)
		}
		if !m.PrunedAt.IsZero() {
			continue
		}
		before = append(before, m)
		m.Envelope, m.Record, m.PrunedAt = nil, nil, now
		b, err := appendIncomingButSeq(nil, &m, recordAt{})
		if err != nil {
			return 0, fmt.Errorf("inbox entry %d: %w", m.Seq, err)
		}
		values = append(values, withSeq(b, m.Seq))
	}
	if also != nil && len(before) > 0 {
		if err := also(tx, before); err != nil {
			return 0, err
		}
	}
	for i, m := range before {
		if err := inbox.Put(binary.BigEndian.AppendUint64(nil, m.Seq), values[i]); err != nil {
			return 0, err
		}
	}
	return len(before), nil
}

// storedReceivedAt reads the time of arrival of the inbox value v, and
// nothing else of it.
func storedReceivedAt(v []byte) (time.Time, error) {
	var at time.Time
	found := false
	err := contracts.RawObject(v, func(name string, value json.RawMessage) error {
		if name != "received_at" {
			return nil
		}
		found = true
		return at.UnmarshalJSON(value)
	})
	if err == nil && !found {
		err = errors.New("no received_at")
	}
	return at, err
}
