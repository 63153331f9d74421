package store

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketDeferred holds, for each queued envelope its peer has deferred
// (could not decide on yet), when the peer first deferred it: delivery
// gives up on one the peer keeps deferring past a bound, and a restart
// must not start the bound again. An envelope leaves it when it leaves
// the outbox, delivered, rejected or buried (so a requeued dead letter
// comes back without one). A peer with no entry costs the delivery of its
// envelopes a single seek, and never a write.
var bucketDeferred = []byte("deferred") // peer "/" envelope id -> RFC 3339 time

// MarkDeferred records that peer deferred the queued envelopes ids at at,
// those it had not deferred before, and returns when it first deferred
// each: at for those, the recorded time for the others, and the zero time
// for an envelope no longer queued, of which nothing is recorded. When
// every envelope was recorded before, it costs a read and no commit.
func (s *Store) MarkDeferred(ctx context.Context, peer string, ids []string, at time.Time) ([]time.Time, error) {
	since := make([]time.Time, len(ids))
	var fresh []int // indexes of the envelopes to record
	err := s.view(func(tx *bolt.Tx) error {
		outbox, deferred := tx.Bucket(bucketOutbox), tx.Bucket(bucketDeferred)
		for i, id := range ids {
			key := outboxKey(peer, id)
			if v := deferred.Get(key); v != nil {
				t, err := time.Parse(time.RFC3339Nano, string(v))
				if err != nil {
					return fmt.Errorf("first deferral of %s by %s (bucket %s): %w", id, peer, bucketDeferred, err)
				}
				since[i] = t
			} else if outbox.Get(key) != nil {
				fresh = append(fresh, i)
			}
		}
		return nil
	})
	if err != nil || len(fresh) == 0 {
		return since, err
	}
	value := []byte(at.UTC().Format(time.RFC3339Nano))
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		outbox, deferred := tx.Bucket(bucketOutbox), tx.Bucket(bucketDeferred)
		for _, i := range fresh {
			// Checked again: the envelope may have left the outbox since
			// the read, and must then leave no entry behind.
			if key := outboxKey(peer, ids[i]); outbox.Get(key) != nil && deferred.Get(key) == nil {
				if err := deferred.Put(key, value); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record deferrals by %s: %w", peer, err)
	}
	for _, i := range fresh {
		since[i] = at
	}
	return since, nil
}

// forgetDeferred deletes the entries of peer's envelopes keys (outbox keys)
// in bucketDeferred, when the peer has any: one seek when it has none.
func forgetDeferred(tx *bolt.Tx, peer string, keys [][]byte) error {
	deferred := tx.Bucket(bucketDeferred)
	prefix := []byte(peer + "/")
	if k, _ := deferred.Cursor().Seek(prefix); k == nil || !hasPrefix(k, prefix) {
		return nil
	}
	for _, key := range keys {
		if err := deferred.Delete(key); err != nil { // a key it lacks is no write
			return err
		}
	}
	return nil
}
