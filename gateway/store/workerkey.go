package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/pki/durable"
)

// WorkerKeyFile is the name of the worker digest key's file, beside the
// store file unless Options.WorkerKeyFile names another.
const WorkerKeyFile = "worker.key"

// workerKeySize is the worker digest key's size: HMAC-SHA256's block is
// larger, its output as large.
const workerKeySize = 32

// bucketKeys and workerKeyName are where releases before the key had a
// file of its own kept it, in the store file itself (bucket keys, key
// worker-digest): whoever held a copy of the file then held the key too.
// The store moves a key found there to the key file when it opens, and
// leaves workerKeyMoved in its place.
var (
	bucketKeys    = []byte("keys") // name -> key, or workerKeyMoved
	workerKeyName = []byte("worker-digest")
)

// workerKeyMoved is what the store file holds under workerKeyName once
// the key is in its key file: not the key, and of another size than a
// key's, which earlier releases refuse to open ("restore the data
// directory from a backup"). Without it, an earlier release started on
// the store file (rolled back without restoring the copy taken before
// the upgrade) would find no key and make a new one, under which every
// digest kept would stop matching and every confirmation of their
// transfers would be refused.
var workerKeyMoved = []byte("moved to the worker key file (worker_key)")

// openWorkerKey returns the worker digest key, kept in the file path
// apart from the store file db, so that a copy of the store file (a
// backup) does not hold the key of the digests in it. The key is made at
// random, and written, where there is none and the store holds no digest
// made under one; a key the store file still holds from an earlier
// release is written to path and then replaced by workerKeyMoved in the
// store file, as every store file this release opens is marked. A
// missing key is never replaced while digests are kept, nor a key of
// another size: every digest kept would stop matching, and a transfer's
// worker would then refuse every confirmation of it.
func openWorkerKey(db *bolt.DB, path string) ([]byte, error) {
	var legacy []byte
	var moved bool
	if err := db.View(func(tx *bolt.Tx) (err error) {
		legacy, moved, err = readLegacyWorkerKey(tx)
		return err
	}); err != nil {
		return nil, err
	}
	key, err := readWorkerKeyFile(path)
	switch {
	case err != nil:
		return nil, err
	case key != nil && legacy != nil && !bytes.Equal(key, legacy):
		return nil, fmt.Errorf("worker key %s holds another key than the one %s holds from an earlier release (bucket %s, key %s), under which its digests were made: restore the key file that belongs to this store, or move %s aside to have the node move the store's key into it",
			path, db.Path(), bucketKeys, workerKeyName, path)
	case key == nil && legacy != nil:
		// On disk before the key leaves the store file: a crash in
		// between leaves it in both, and the next open moves it then.
		if err := writeWorkerKeyFile(path, legacy); err != nil {
			return nil, err
		}
		key = legacy
	case key == nil:
		if key, err = newWorkerKey(db, path); err != nil {
			return nil, err
		}
	}
	if moved {
		return key, nil
	}
	if err := db.Update(markWorkerKeyMoved); err != nil {
		return nil, fmt.Errorf("worker key %s: mark in %s that the key is in its file (bucket %s, key %s): %w", path, db.Path(), bucketKeys, workerKeyName, err)
	}
	return key, nil
}

// readLegacyWorkerKey returns the key an earlier release kept in the store
// file, nil if there is none; moved tells that the store file holds
// workerKeyMoved instead. A value of another size is refused, as earlier
// releases refused it.
func readLegacyWorkerKey(tx *bolt.Tx) (key []byte, moved bool, err error) {
	b := tx.Bucket(bucketKeys)
	if b == nil {
		return nil, false, nil
	}
	k := b.Get(workerKeyName)
	switch {
	case bytes.Equal(k, workerKeyMoved):
		return nil, true, nil
	case k != nil && len(k) != workerKeySize:
		return nil, false, fmt.Errorf("bucket %s: key %s has %d bytes, want %d: restore the data directory from a backup", bucketKeys, workerKeyName, len(k), workerKeySize)
	}
	return clone(k), false, nil
}

// markWorkerKeyMoved replaces the key an earlier release kept in the store
// file, if any, by workerKeyMoved, in one commit. bbolt frees the page
// that held the key without clearing it: the operator guide says how to
// erase it (compact the file).
func markWorkerKeyMoved(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return err
	}
	return b.Put(workerKeyName, workerKeyMoved)
}

// readWorkerKeyFile reads the key file at path: the key in hex on one
// line; nil if there is no file.
func readWorkerKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("worker key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(k) != workerKeySize {
		return nil, fmt.Errorf("worker key %s does not hold a key of %d bytes in hex: restore it from a backup", path, workerKeySize)
	}
	return k, nil
}

// writeWorkerKeyFile writes key to a new file at path, readable by the
// node's user alone, and on disk, with the directory's name for it,
// before any digest is made under it: a key lost to a crash after that
// could not be made again.
func writeWorkerKeyFile(path string, key []byte) error {
	if err := durable.CreateFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("worker key: %w", err)
	}
	return nil
}

// newWorkerKey makes and writes the key of a store that has none. It
// refuses when the store holds digests, made under a key now missing:
// under a new one, every confirmation of their transfers would be refused.
func newWorkerKey(db *bolt.DB, path string) ([]byte, error) {
	var held bool
	if err := db.View(func(tx *bolt.Tx) error {
		held = holdsWorkerDigests(tx)
		return nil
	}); err != nil {
		return nil, err
	}
	if held {
		return nil, fmt.Errorf("worker key %s is missing, but %s holds digests of transfers' workers made under it, against which confirmations are matched: restore the key file from a backup; the node makes a new key only while no digest is kept, since under it every confirmation of those transfers would be refused (see \"When the worker key is lost\" in the operator guide)",
			path, db.Path())
	}
	k := make([]byte, workerKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("worker key %s: %w", path, err)
	}
	if err := writeWorkerKeyFile(path, k); err != nil {
		return nil, err
	}
	return k, nil
}

// workerMember marks a record whose status keeps a worker (storedStatus),
// so that holdsWorkerDigests decodes only those.
var workerMember = []byte(`"worker":{`)

// holdsWorkerDigests tells whether any record's status keeps a digest of
// its worker. It reads every record when none does, which only a store
// whose key file is missing asks.
func holdsWorkerDigests(tx *bolt.Tx) bool {
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.Contains(v, workerMember) {
			continue
		}
		var r struct {
			Worker *SentWorker `json:"worker"`
		}
		if json.Unmarshal(v, &r) == nil && r.Worker != nil && (len(r.Worker.Digest) > 0 || len(r.Worker.MaskDigest) > 0) {
			return true
		}
	}
	return false
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
// random key this store made and keeps in its key file (WorkerKeyFile),
// apart from the store file. Keyed, so that the digest of a number of
// well-known format cannot be tested against guessed numbers without the
// key file. Safe for concurrent use.
func (s *Store) WorkerDigest(dst, chars []byte) []byte {
	h := s.macs.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(chars)
	dst = h.Sum(dst)
	s.macs.pool.Put(h)
	return dst
}
