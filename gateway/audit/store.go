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
	// bucketHashes holds the tree hashes of a log written before hash
	// blocks, one per tlog StoredHashIndex, up to its keyBlocksFrom.
	bucketHashes = []byte("hashes") // tlog StoredHashIndex -> 32-byte hash
	// bucketBlocks holds every tree hash from keyBlocksFrom on, blockHashes
	// to a value: an append of a few hundred entries puts a handful of
	// values, not two for each entry.
	bucketBlocks = []byte("hashblocks") // StoredHashIndex / blockHashes -> hashes in index order
	bucketHeads  = []byte("heads")      // tree size -> signed checkpoint note
	bucketMeta   = []byte("meta")       // keySize -> number of entries; keyBlocksFrom -> first index in blocks; keyFormat -> format version
)

var (
	keySize       = []byte("size")
	keyBlocksFrom = []byte("blocks_from")
)

// blockHashes is how many tree hashes one value of bucketBlocks holds: 2
// KiB, the hashes of about 32 entries.
const blockHashes = 64

// appendFill packs append-only buckets densely: keys only ever grow, so
// bbolt never needs the slack of its default 50% split.
const appendFill = 0.95

// ErrCorrupt reports that the log's buckets are missing or malformed, or
// that a log holding entries has lost its size.
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
	entries, hashes, blocks, heads, meta *bolt.Bucket
	// size is meta's size as buckets read it, once for every use in
	// the transaction: after an append's put of a new one it is stale,
	// so each appendTx call takes its buckets afresh.
	size int64
	// blocksFrom is the first tree hash index kept in blocks; those
	// before it are in hashes.
	blocksFrom int64
}

func (l *Log) buckets(tx *bolt.Tx) (buckets, error) {
	top := tx.Bucket([]byte(l.cfg.Bucket))
	if top == nil {
		return buckets{}, fmt.Errorf("%w: bucket %q missing", ErrCorrupt, l.cfg.Bucket)
	}
	b := buckets{entries: top.Bucket(bucketEntries), hashes: top.Bucket(bucketHashes), blocks: top.Bucket(bucketBlocks), heads: top.Bucket(bucketHeads), meta: top.Bucket(bucketMeta)}
	if b.entries == nil || b.hashes == nil || b.blocks == nil || b.heads == nil || b.meta == nil {
		return buckets{}, fmt.Errorf("%w: nested buckets of %q missing", ErrCorrupt, l.cfg.Bucket)
	}
	var err error
	if b.size, err = l.readSize(tx, b); err != nil {
		return buckets{}, err
	}
	v := b.meta.Get(keyBlocksFrom)
	if len(v) != 8 {
		return buckets{}, fmt.Errorf("%w: where the hash blocks start is missing", ErrCorrupt)
	}
	// Past the hashes stored, or negative (which would send negative
	// indexes to the blocks), it would read hashes from the wrong place.
	if b.blocksFrom = unkey(v); b.blocksFrom < 0 || b.blocksFrom > tlog.StoredHashCount(b.size) {
		return buckets{}, fmt.Errorf("%w: hash blocks start at %d, outside the log's hashes", ErrCorrupt, b.blocksFrom)
	}
	b.entries.FillPercent = appendFill
	b.blocks.FillPercent = appendFill
	return b, nil
}

// readSize reads the log's size from meta. A log never appended to has
// none yet; one that holds entries but no size has lost it, and read as
// empty it would take its next appends over its history.
func (l *Log) readSize(tx *bolt.Tx, b buckets) (int64, error) {
	v := b.meta.Get(keySize)
	if v == nil {
		if !b.appendedTo() {
			return 0, nil
		}
		return 0, l.sizeCorrupt(tx, "is missing, but the log holds entries")
	}
	if len(v) != 8 || unkey(v) < 0 {
		return 0, l.sizeCorrupt(tx, fmt.Sprintf("holds %x, which is not a size", v))
	}
	return unkey(v), nil
}

// appendedTo reports whether b holds anything an append writes: entries,
// or tree hashes in either bucket, which outlive entries removed by hand.
// A first key each is enough, so a new log pays three seeks to tell it
// from one that lost its size.
func (b buckets) appendedTo() bool {
	for _, bk := range []*bolt.Bucket{b.entries, b.hashes, b.blocks} {
		if k, _ := bk.Cursor().First(); k != nil {
			return true
		}
	}
	return false
}

// sizeCorrupt is readSize's error: which file, bucket and key, what is
// wrong with it, and what to do.
func (l *Log) sizeCorrupt(tx *bolt.Tx, problem string) error {
	return fmt.Errorf("%w: %s, bucket %q, nested bucket %q: key %q %s; restore the data directory from a backup",
		ErrCorrupt, tx.DB().Path(), l.cfg.Bucket, bucketMeta, keySize, problem)
}

// createBuckets makes the log's buckets where they are missing and brings
// the log to currentFormat (upgradeFormat). A log of a newer format is
// refused before anything is created in it.
func createBuckets(tx *bolt.Tx, name string) error {
	f, err := checkFormat(tx, name)
	if err != nil {
		return err
	}
	top, err := tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return err
	}
	for _, n := range [][]byte{bucketEntries, bucketHashes, bucketBlocks, bucketHeads, bucketMeta} {
		if _, err := top.CreateBucketIfNotExists(n); err != nil {
			return err
		}
	}
	return upgradeFormat(top.Bucket(bucketMeta), f)
}

// hashReader reads stored tree hashes from the log's buckets, inside
// whatever transaction they belong to (a write transaction sees its own
// puts).
type hashReader struct{ b buckets }

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
	var v []byte
	if x < r.b.blocksFrom {
		v = r.b.hashes.Get(key(x))
	} else if block := r.b.blocks.Get(key(x / blockHashes)); len(block) >= int(x%blockHashes+1)*tlog.HashSize {
		v = block[x%blockHashes*tlog.HashSize:][:tlog.HashSize]
	}
	if len(v) != tlog.HashSize {
		return h, fmt.Errorf("%w: tree hash %d missing", ErrCorrupt, x)
	}
	copy(h[:], v)
	return h, nil
}

// putHashes stores hs, the tree hashes from index first on, in the blocks
// that hold them, after those already in the first one. It fails before
// its first put or not at all (but for bbolt's own errors), so a failed
// append writes nothing.
func (b buckets) putHashes(first int64, hs []tlog.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	if first < b.blocksFrom {
		return fmt.Errorf("%w: tree hash %d is before the hash blocks start at %d", ErrCorrupt, first, b.blocksFrom)
	}
	for len(hs) > 0 {
		block, slot := first/blockHashes, int(first%blockHashes)
		n := min(len(hs), blockHashes-slot)
		old := b.blocks.Get(key(block))
		// Only the first block, read before any put, can hold hashes
		// before first (slot > 0); at blocksFrom, those before it in the
		// block are in bucketHashes, not the block.
		if first > b.blocksFrom && len(old) < slot*tlog.HashSize {
			return fmt.Errorf("%w: tree hashes of block %d missing before %d", ErrCorrupt, block, first)
		}
		// A new value: bbolt keeps it until the commit.
		v := make([]byte, (slot+n)*tlog.HashSize)
		copy(v, old[:min(len(old), slot*tlog.HashSize)])
		for i, h := range hs[:n] {
			copy(v[(slot+i)*tlog.HashSize:], h[:])
		}
		if err := b.blocks.Put(key(block), v); err != nil {
			return err
		}
		first, hs = first+int64(n), hs[n:]
	}
	return nil
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
