package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// bucketKeys holds the keys a node makes for itself and never shares.
var bucketKeys = []byte("keys") // name -> key

// workerKeyName names the key of the digests kept of transfers' workers
// (SentWorker.Digest).
var workerKeyName = []byte("worker-digest")

// workerKeySize is the worker digest key's size: HMAC-SHA256's block is
// larger, its output as large.
const workerKeySize = 32

// readWorkerKey reads the worker digest key, made at random the first time
// a store is opened. A key of another size is an error, not replaced: the
// digests kept under it would all stop matching, and a transfer's worker
// would then refuse every confirmation of it.
func readWorkerKey(tx *bolt.Tx) ([]byte, error) {
	b, err := tx.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return nil, err
	}
	if k := b.Get(workerKeyName); k != nil {
		if len(k) != workerKeySize {
			return nil, fmt.Errorf("bucket %s: key %s has %d bytes, want %d: restore the data directory from a backup", bucketKeys, workerKeyName, len(k), workerKeySize)
		}
		return clone(k), nil
	}
	k := make([]byte, workerKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("make key %s: %w", workerKeyName, err)
	}
	return k, b.Put(workerKeyName, k)
}

// workerMACs hands out HMAC-SHA256 states under the worker digest key,
// reused: export computes a digest for every transfer it accepts.
type workerMACs struct{ pool sync.Pool }

func newWorkerMACs(key []byte) *workerMACs {
	return &workerMACs{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// WorkerDigest appends to dst the keyed digest a node keeps of a
// transfer's worker ID number (SentWorker.Digest) for chars, the number's
// characters at the positions the transfer showed: HMAC-SHA256 under a
// random key this store made and keeps. Keyed, so that the digest of a
// number of well-known format cannot be tested against guessed numbers
// without the store file, which holds the key. Safe for concurrent use.
func (s *Store) WorkerDigest(dst, chars []byte) []byte {
	h := s.macs.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(chars)
	dst = h.Sum(dst)
	s.macs.pool.Put(h)
	return dst
}
