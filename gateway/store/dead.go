package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketDead holds the envelopes delivery gave up on, out of the outbox so
// they no longer block their peer's queue, until an operator requeues or
// discards them.
var bucketDead = []byte("dead") // peer "/" envelope id -> deadValue (JSON)

// buriedCounter is the burial position of the latest dead letter
// (DeadLetter.Burial).
const buriedCounter = "dead/buried"

// DeadLetter is an envelope delivery gave up on: its peer refused it, sent
// alone, with a status that retrying cannot change, or it could not be read
// to be sent at all. It names the refusal, never what the envelope holds.
type DeadLetter struct {
	EnvelopeID string `json:"envelope_id"`
	Peer       string `json:"peer"`
	// Status is the peer's HTTP status; 0 when the envelope was never sent
	// because it could not be read as stored, StatusBrokenAnswer when the
	// peer's answers for it kept breaking the protocol, and
	// StatusDeferredTooLong when the peer kept deferring it.
	Status int `json:"status,omitempty"`
	// Reason is the peer's error text, or why the envelope could not be read.
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// Burial is the dead letter's place in the order of burials, over all
	// peers: each burial, a requeued envelope's again too, takes the next
	// one in its commit, so a dead letter buried after a listing has a
	// greater one than any the listing showed (DeadPick). 0 for one buried
	// before burials were numbered, which every listing since shows.
	Burial uint64 `json:"burial,omitempty"`
}

// StatusBrokenAnswer is the status of a dead letter buried because the
// peer answered 200 but its answers for the envelope kept breaking the
// protocol (a receipt for other content, say): 502 is what a gateway says
// of an upstream answer it cannot use. A peer's own 5xx is retried, never
// buried, so the status names this case alone.
const StatusBrokenAnswer = http.StatusBadGateway

// StatusDeferredTooLong is the status of a dead letter buried because the
// peer kept deferring it (could not decide on it: a referral update whose
// referral it does not hold, say) for longer than delivery allows: 504 is
// what a gateway says when upstream did not answer in time. A peer's own
// 5xx is retried, never buried, so the status names this case alone.
const StatusDeferredTooLong = http.StatusGatewayTimeout

// Why is the dead letter's reason as a record's delivery state shows it.
func (d DeadLetter) Why() string {
	switch d.Status {
	case 0:
		return "the stored envelope could not be sent: " + d.Reason
	case StatusBrokenAnswer:
		return fmt.Sprintf("province %s took the envelope but its answers for it could not be used: %s", d.Peer, d.Reason)
	case StatusDeferredTooLong:
		return fmt.Sprintf("province %s kept deferring the envelope, never taking nor refusing it: %s", d.Peer, d.Reason)
	}
	return fmt.Sprintf("province %s refused the envelope with %d %s: %s", d.Peer, d.Status, http.StatusText(d.Status), d.Reason)
}

// deadValue is a dead letter as stored: its outbox value comes with it, so
// a requeue puts back exactly what was queued.
type deadValue struct {
	DeadLetter
	Outbox []byte `json:"outbox"`
}

// MarkDead moves envelopes queued for peer into the dead letters, each
// with the next burial position, marks their records failed and forgets
// when the peer first deferred them (MarkDeferred), in one commit. Every envelope must be queued; otherwise nothing is written and
// the error wraps ErrNotFound.
func (s *Store) MarkDead(ctx context.Context, peer string, ds []DeadLetter) error {
	return s.MarkDeadAnd(ctx, peer, ds, nil)
}

// MarkDeadAnd is MarkDead with more writes in the same transaction, as
// MarkDeliveredAnd: also runs once every envelope is known to be queued and
// before anything is written; an error from it fails the call with nothing
// written.
func (s *Store) MarkDeadAnd(ctx context.Context, peer string, ds []DeadLetter, also func(tx *bolt.Tx) error) error {
	now := s.now().UTC()
	failed := make([][]byte, len(ds))
	for i := range ds {
		ds[i].Peer = peer
		if ds[i].At.IsZero() {
			ds[i].At = now
		}
		var err error
		if failed[i], err = deadDelivery(ds[i], time.Time{}); err != nil {
			return err
		}
	}
	moved := 0
	err := s.c.doThen(ctx, func(tx *bolt.Tx) error {
		outbox, dead := tx.Bucket(bucketOutbox), tx.Bucket(bucketDead)
		queued := make([][]byte, len(ds))
		for i, d := range ds {
			if queued[i] = outbox.Get(outboxKey(peer, d.EnvelopeID)); queued[i] == nil {
				return fmt.Errorf("mark %s dead: not queued for %s: %w", d.EnvelopeID, peer, ErrNotFound)
			}
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		last, err := increment(tx, buriedCounter, uint64(len(ds)))
		if err != nil {
			return err
		}
		keys := make([][]byte, len(ds))
		for i, d := range ds {
			d.Burial = last - uint64(len(ds)-1-i)
			key := outboxKey(peer, d.EnvelopeID)
			keys[i] = key
			again := dead.Get(key) != nil // the same envelope twice in ds moves once
			if err := putJSON(dead, string(key), deadValue{DeadLetter: d, Outbox: queued[i]}); err != nil {
				return err
			}
			if err := outbox.Delete(key); err != nil {
				return err
			}
			if !again {
				moved++
			}
			if tx.Bucket(bucketRecords).Get([]byte(d.EnvelopeID)) == nil {
				continue // queued without a record: nothing to show as failed
			}
			if err := tx.Bucket(bucketDelivered).Put([]byte(d.EnvelopeID), failed[i]); err != nil {
				return err
			}
		}
		return forgetDeferred(tx, peer, keys)
	}, func() {
		s.queues.add(peer, -moved)
		s.dead.add(peer, moved)
	})
	if err != nil {
		return fmt.Errorf("dead-letter %d envelopes for %s: %w", len(ds), peer, err)
	}
	return nil
}

// deadDelivery is the delivery state of the record of dead letter d: failed
// with d's reason, and discarded at discardedAt unless it is zero.
func deadDelivery(d DeadLetter, discardedAt time.Time) ([]byte, error) {
	dv := delivery{State: StateFailed, Reasons: []string{d.Why()}, FailedAt: d.At, DiscardedAt: discardedAt}
	if !discardedAt.IsZero() {
		dv.State = StateDiscarded
	}
	data, err := json.Marshal(dv)
	if err != nil {
		return nil, fmt.Errorf("delivery state of dead letter %s: %w", d.EnvelopeID, err)
	}
	return data, nil
}

// DeadLetters lists the dead letters for peer, or for every peer when peer
// is "", by peer and then envelope id (oldest first), without envelopes.
func (s *Store) DeadLetters(peer string) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.view(func(tx *bolt.Tx) error {
		var prefix []byte
		if peer != "" {
			prefix = []byte(peer + "/")
		}
		c := tx.Bucket(bucketDead).Cursor()
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			var d DeadLetter // the outbox member is left unread
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("dead letter %s: %w", k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// DeadLetterCounts counts the dead letters for each peer (peers with none
// left out), from counts kept with each commit, as Depth.
func (s *Store) DeadLetterCounts() map[string]int {
	return s.dead.counts()
}

// DeadPick names which of a peer's dead letters an operator's requeue or
// discard takes: the one EnvelopeID names or, when it is "", every one
// buried through Through.
type DeadPick struct {
	EnvelopeID string
	// Through is a burial position (DeadLetter.Burial), the greatest of a
	// listing the operator acts on: dead letters buried after it, which
	// the listing did not show, stay. EveryBurial takes them all.
	Through uint64
}

// EveryBurial is the Through of a pick of every dead letter of a peer,
// whenever buried.
const EveryBurial = math.MaxUint64

// Requeue moves peer's dead letters that pick names back into its outbox
// and clears their failed state, in one commit; it returns how many moved.
// The peer's delivery worker sends them once notified. An unknown envelope
// id is an error wrapping ErrNotFound.
func (s *Store) Requeue(ctx context.Context, peer string, pick DeadPick) (int, error) {
	return s.RequeueAnd(ctx, peer, pick, nil)
}

// RequeueAnd is Requeue with more writes in the same transaction, such as
// the audit entries of the requeue: also is told which dead letters go
// back (none, when pick names all and the peer has none) before anything
// is written; an error from it fails the call with nothing written.
func (s *Store) RequeueAnd(ctx context.Context, peer string, pick DeadPick, also func(tx *bolt.Tx, requeued []DeadLetter) error) (int, error) {
	n, err := s.takeDead(ctx, peer, pick, also, func(tx *bolt.Tx, key []byte, dv deadValue) error {
		if err := tx.Bucket(bucketOutbox).Put(key, dv.Outbox); err != nil {
			return err
		}
		return tx.Bucket(bucketDelivered).Delete([]byte(dv.EnvelopeID))
	}, func(moved int) { s.queues.add(peer, moved) })
	if err != nil {
		return 0, fmt.Errorf("requeue dead letters for %s: %w", peer, err)
	}
	return n, nil
}

// Discard deletes peer's dead letters that pick names, in one commit, and
// returns how many went: their envelopes, and the personal data in them,
// are no longer kept, but for the file's freed pages until bbolt reuses
// them; nor is the digest kept of a transfer's worker (SentWorker), which
// no confirmation will be matched with. Their records become discarded,
// keeping the peer's refusal as the reason, since they were never
// delivered and never will be. An unknown envelope id is an error
// wrapping ErrNotFound.
func (s *Store) Discard(ctx context.Context, peer string, pick DeadPick) (int, error) {
	return s.DiscardAnd(ctx, peer, pick, nil)
}

// DiscardAnd is Discard with more writes in the same transaction, as
// RequeueAnd: also is told which dead letters go before anything is
// written; an error from it fails the call with nothing written.
func (s *Store) DiscardAnd(ctx context.Context, peer string, pick DeadPick, also func(tx *bolt.Tx, discarded []DeadLetter) error) (int, error) {
	now := s.now().UTC()
	var discarded map[string][]byte // envelope id -> its record's delivery state
	n, err := s.takeDead(ctx, peer, pick, func(tx *bolt.Tx, ds []DeadLetter) error {
		var err error
		if discarded, err = discardedDeliveries(tx, ds, now); err != nil {
			return err
		}
		if also != nil {
			return also(tx, ds)
		}
		return nil
	}, func(tx *bolt.Tx, _ []byte, dv deadValue) error {
		d := discarded[dv.EnvelopeID]
		if d == nil {
			return nil
		}
		if err := dropWorker(tx, dv.EnvelopeID); err != nil {
			return err
		}
		return tx.Bucket(bucketDelivered).Put([]byte(dv.EnvelopeID), d)
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("discard dead letters for %s: %w", peer, err)
	}
	return n, nil
}

// discardedDeliveries encodes the delivery state of the record of each
// dead letter of ds as discarded at now, by envelope id, before anything
// of the discard is written; a dead letter queued without a record has
// none to show it.
func discardedDeliveries(tx *bolt.Tx, ds []DeadLetter, now time.Time) (map[string][]byte, error) {
	out := make(map[string][]byte, len(ds))
	for _, d := range ds {
		if tx.Bucket(bucketRecords).Get([]byte(d.EnvelopeID)) == nil {
			continue
		}
		var err error
		if out[d.EnvelopeID], err = deadDelivery(d, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// takeDead takes peer's dead letters that pick names out of bucketDead, in
// one commit: also is told which before anything is written; put, if set,
// writes where each goes before it is deleted; after, if set, is told how
// many went once the commit is durable, as the dead letter counts are. An
// unknown envelope id is an error wrapping ErrNotFound.
func (s *Store) takeDead(ctx context.Context, peer string, pick DeadPick, also func(*bolt.Tx, []DeadLetter) error,
	put func(tx *bolt.Tx, key []byte, dv deadValue) error, after func(moved int)) (int, error) {
	moved := 0
	err := s.c.doThen(ctx, func(tx *bolt.Tx) error {
		keys, dvs, err := deadUnder(tx, peer, pick)
		if err != nil {
			return err
		}
		if also != nil {
			ds := make([]DeadLetter, len(dvs))
			for i, dv := range dvs {
				ds[i] = dv.DeadLetter
			}
			if err := also(tx, ds); err != nil {
				return err
			}
		}
		for i, k := range keys {
			if put != nil {
				if err := put(tx, k, dvs[i]); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketDead).Delete(k); err != nil {
				return err
			}
			moved++
		}
		return nil
	}, func() {
		s.dead.add(peer, -moved)
		if after != nil {
			after(moved)
		}
	})
	return moved, err
}

// deadUnder reads peer's dead letters that pick names, with their keys; an
// unknown envelope id is an error wrapping ErrNotFound.
func deadUnder(tx *bolt.Tx, peer string, pick DeadPick) (keys [][]byte, dvs []deadValue, err error) {
	prefix := []byte(peer + "/")
	if pick.EnvelopeID != "" {
		prefix = outboxKey(peer, pick.EnvelopeID)
	}
	c := tx.Bucket(bucketDead).Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		if pick.EnvelopeID != "" && !bytes.Equal(k, prefix) {
			break
		}
		var dv deadValue
		if err := json.Unmarshal(v, &dv); err != nil {
			return nil, nil, fmt.Errorf("dead letter %s: %w", k, err)
		}
		if pick.EnvelopeID == "" && dv.Burial > pick.Through {
			continue // buried after the listing the pick was made from
		}
		keys, dvs = append(keys, clone(k)), append(dvs, dv)
	}
	if pick.EnvelopeID != "" && len(keys) == 0 {
		return nil, nil, fmt.Errorf("no dead letter %s for %s: %w", pick.EnvelopeID, peer, ErrNotFound)
	}
	return keys, dvs, nil
}
