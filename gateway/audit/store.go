package audit

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// Nested bucket names inside Config.Bucket.
var (
	bucketEntries = []byte("entries") // position -> canonical entry JSON
	bucketHashes  = []byte("hashes")  // tlog StoredHashIndex -> 32-byte hash
	bucketHeads   = []byte("heads")   // tree size -> signed checkpoint note
	bucketMeta    = []byte("meta")    // keySize -> number of entries
)

var keySize = []byte("size")

// appendFill packs append-only buckets densely: keys only ever grow, so
// bbolt never needs the slack of its default 50% split.
const appendFill = 0.95

// ErrCorrupt reports that the log's buckets are missing or malformed.
var ErrCorrupt = errors.New("audit log storage is corrupt")

func key(n int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(n))
	return k[:]
}

// putKey is key(n) in k.
func putKey(k *[8]byte, n int64) []byte {
	binary.BigEndian.PutUint64(k[:], uint64(n))
	return k[:]
}

func unkey(k []byte) int64 { return int64(binary.BigEndian.Uint64(k)) }

// buckets are the log's nested buckets within one transaction.
type buckets struct {
	entries, hashes, heads, meta *bolt.Bucket
}

func (l *Log) buckets(tx *bolt.Tx) (buckets, error) {
	top := tx.Bucket([]byte(l.cfg.Bucket))
	if top == nil {
		return buckets{}, fmt.Errorf("%w: bucket %q missing", ErrCorrupt, l.cfg.Bucket)
	}
	b := buckets{top.Bucket(bucketEntries), top.Bucket(bucketHashes), top.Bucket(bucketHeads), top.Bucket(bucketMeta)}
	if b.entries == nil || b.hashes == nil || b.heads == nil || b.meta == nil {
		return buckets{}, fmt.Errorf("%w: nested buckets of %q missing", ErrCorrupt, l.cfg.Bucket)
	}
	b.entries.FillPercent = appendFill
	b.hashes.FillPercent = appendFill
	return b, nil
}

func createBuckets(tx *bolt.Tx, name string) error {
	top, err := tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return err
	}
	for _, n := range [][]byte{bucketEntries, bucketHashes, bucketHeads, bucketMeta} {
		if _, err := top.CreateBucketIfNotExists(n); err != nil {
			return err
		}
	}
	return nil
}

func (b buckets) size() int64 {
	v := b.meta.Get(keySize)
	if len(v) != 8 {
		return 0
	}
	return unkey(v)
}

// hashReader reads stored tree hashes from the bucket, inside whatever
// transaction the bucket belongs to (a write transaction sees its own puts).
type hashReader struct{ b *bolt.Bucket }

// ReadHashes implements tlog.HashReader.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		var err error
		if out[i], err = r.readHash(x); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readHash reads the tree hash stored at index x.
func (r hashReader) readHash(x int64) (tlog.Hash, error) {
	var h tlog.Hash
	v := r.b.Get(key(x))
	if len(v) != tlog.HashSize {
		return h, fmt.Errorf("%w: tree hash %d missing", ErrCorrupt, x)
	}
	copy(h[:], v)
	return h, nil
}

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256 of nothing;
// tlog returns the zero hash there, which C2SP verifiers would not accept.
var emptyRoot = tlog.Hash{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
	0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99,
	0x1b, 0x78, 0x52, 0xb8, 0x55}

// treeHash is the RFC 6962 root of the first n leaves.
func treeHash(n int64, r tlog.HashReader) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	return tlog.TreeHash(n, r)
}
