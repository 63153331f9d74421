package audit

import (
	"bytes"
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

// ErrCorrupt reports that the log's buckets are missing or malformed, that
// a log holding entries has lost its size, that its entries or tree
// hashes do not end where its size says, or that it holds a signed head
// for more entries than its size.
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
		return buckets{}, fmt.Errorf("%w: %s: bucket %q missing", ErrCorrupt, tx.DB().Path(), l.cfg.Bucket)
	}
	b := buckets{entries: top.Bucket(bucketEntries), hashes: top.Bucket(bucketHashes), blocks: top.Bucket(bucketBlocks), heads: top.Bucket(bucketHeads), meta: top.Bucket(bucketMeta)}
	if b.entries == nil || b.hashes == nil || b.blocks == nil || b.heads == nil || b.meta == nil {
		return buckets{}, fmt.Errorf("%w: %s: nested buckets of %q missing", ErrCorrupt, tx.DB().Path(), l.cfg.Bucket)
	}
	var err error
	if b.size, err = l.readSize(tx, b); err != nil {
		return buckets{}, err
	}
	v := b.meta.Get(keyBlocksFrom)
	if len(v) != 8 {
		return buckets{}, l.bucketCorrupt(tx, bucketMeta, fmt.Sprintf("key %q, where the hash blocks start, is missing or not 8 bytes", keyBlocksFrom))
	}
	// Past the hashes stored, or negative (which would send negative
	// indexes to the blocks), it would read hashes from the wrong place.
	if b.blocksFrom = unkey(v); b.blocksFrom < 0 || b.blocksFrom > tlog.StoredHashCount(b.size) {
		return buckets{}, l.bucketCorrupt(tx, bucketMeta, fmt.Sprintf("key %q says the hash blocks start at %d, outside the log's %d tree hashes", keyBlocksFrom, b.blocksFrom, tlog.StoredHashCount(b.size)))
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
	return l.bucketCorrupt(tx, bucketMeta, fmt.Sprintf("key %q %s", keySize, problem))
}

// bucketCorrupt is ErrCorrupt for a problem in nested bucket name: which
// file and buckets, what is wrong, and what to do.
func (l *Log) bucketCorrupt(tx *bolt.Tx, name []byte, problem string) error {
	return fmt.Errorf("%w: %s, bucket %q, nested bucket %q: %s; restore the data directory from a backup",
		ErrCorrupt, tx.DB().Path(), l.cfg.Bucket, name, problem)
}

// checkEnds is open's check that the buckets an append writes by index end
// where the log's size says: its entries at position size-1, its hash
// blocks with tree hash StoredHashCount(size)-1, and the hashes of before
// hash blocks at blocks_from-1; and that no signed head is for more
// entries than the size. A size smaller than the log would have its next
// appends take positions and tree hashes it holds; a larger one reads
// entries and hashes that are gone. One cursor to the last key of each
// bucket; appendTx checks again, as cheaply, before it writes.
func (l *Log) checkEnds(tx *bolt.Tx, b buckets) error {
	if err := l.checkLastKey(tx, b.entries, bucketEntries, "meta size", b.size, "entry"); err != nil {
		return err
	}
	if err := l.checkBlocksEnd(tx, b); err != nil {
		return err
	}
	if err := l.checkLastKey(tx, b.hashes, bucketHashes, "blocks_from", b.blocksFrom, "tree hash"); err != nil {
		return err
	}
	k, _ := b.heads.Cursor().Last()
	return l.checkHeadsEnd(tx, b, k)
}

// checkHeadsEnd requires no signed head to be for more entries than the
// log's size. Heads are kept by the size they sign, and the size never goes
// down: a head for more entries than the log holds means some went, with
// their tree hashes and the size, and the log would take its next appends
// where they were, and sign a head that contradicts the last one.
// last is the heads bucket's last key, nil for none.
func (l *Log) checkHeadsEnd(tx *bolt.Tx, b buckets, last []byte) error {
	if k := last; k != nil && bytes.Compare(k, key(b.size)) > 0 {
		return l.bucketCorrupt(tx, bucketHeads, fmt.Sprintf("meta size is %d but a head for size %s exists", b.size, keyString(k)))
	}
	return nil
}

// checkLastKey is checkEnds for a bucket keyed by index, bkt (nested
// bucket name): it must hold its last item at n-1, and nothing when n is 0.
// count names n in the error ("meta size"), item what the bucket holds.
func (l *Log) checkLastKey(tx *bolt.Tx, bkt *bolt.Bucket, name []byte, count string, n int64, item string) error {
	k, _ := bkt.Cursor().Last()
	switch {
	case k == nil && n > 0:
		return l.bucketCorrupt(tx, name, fmt.Sprintf("%s is %d but there is no %s", count, n, item))
	case k == nil:
	case n == 0 || bytes.Compare(k, key(n-1)) > 0:
		return l.bucketCorrupt(tx, name, fmt.Sprintf("%s is %d but %s %s exists", count, n, item, keyString(k)))
	case bytes.Compare(k, key(n-1)) < 0:
		return l.bucketCorrupt(tx, name, fmt.Sprintf("%s is %d but the last %s is %s", count, n, item, keyString(k)))
	}
	return nil
}

// checkBlocksEnd is checkEnds for the hash blocks: none if the log's tree
// hashes all come before blocks_from, else the last is the block of tree
// hash StoredHashCount(size)-1, holding the hashes up to it.
func (l *Log) checkBlocksEnd(tx *bolt.Tx, b buckets) error {
	n := tlog.StoredHashCount(b.size)
	k, v := b.blocks.Cursor().Last()
	if n == b.blocksFrom {
		if k != nil {
			return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d, whose tree hashes all come before blocks_from %d, but block %s exists", b.size, b.blocksFrom, keyString(k)))
		}
		return nil
	}
	last := (n - 1) / blockHashes
	switch c := bytes.Compare(k, key(last)); {
	case k == nil:
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d, whose tree hashes end in block %d, but there is no block", b.size, last))
	case c > 0:
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d, whose tree hashes end in block %d, but block %s exists", b.size, last, keyString(k)))
	case c < 0:
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d, whose tree hashes end in block %d, but the last block is %s", b.size, last, keyString(k)))
	}
	// Counted from the block's first slot, which may be before
	// blocks_from: putHashes leaves those slots zero.
	if want := int((n-1)%blockHashes + 1); len(v) != want*tlog.HashSize {
		held := fmt.Sprintf("%d tree hashes", len(v)/tlog.HashSize)
		if len(v)%tlog.HashSize != 0 {
			held = fmt.Sprintf("%d bytes", len(v))
		}
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d, whose tree hashes end in block %d, but block %d holds %s, want %d",
			b.size, last, last, held, want))
	}
	return nil
}

// keyString is a key of the log's buckets as the number it holds, or in
// hex if it is not one.
func keyString(k []byte) string {
	if len(k) != 8 {
		return fmt.Sprintf("key %x", k)
	}
	return fmt.Sprint(unkey(k))
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
// of b, the log's buckets in tx, that hold them, after those already in
// the first one. It fails before its first put or not at all (but for
// bbolt's own errors), so a failed append writes nothing.
func (l *Log) putHashes(tx *bolt.Tx, b buckets, first int64, hs []tlog.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	if first < b.blocksFrom {
		return fmt.Errorf("%w: tree hash %d is before the hash blocks start at %d", ErrCorrupt, first, b.blocksFrom)
	}
	// The last block, read before any put: the first the append writes
	// if it has one, with the hashes before first, and none after it,
	// or the append would write over them (meta's size went down since
	// Open checked it); the blocks after the first are new.
	block, slot := first/blockHashes, int(first%blockHashes)
	k, old := b.blocks.Cursor().Last()
	switch c := bytes.Compare(k, key(block)); {
	case k == nil || c < 0:
		old = nil
	case c > 0:
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d but block %s exists past block %d, where its tree hashes end", b.size, keyString(k), block))
	}
	if len(old) > slot*tlog.HashSize {
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d but block %d holds hashes at and past %d, where its tree hashes end", b.size, block, first))
	}
	// At blocksFrom, the hashes before first in its block are in
	// bucketHashes, not the block.
	if first > b.blocksFrom && len(old) < slot*tlog.HashSize {
		return l.bucketCorrupt(tx, bucketBlocks, fmt.Sprintf("meta size is %d but the tree hashes of block %d before %d are missing", b.size, block, first))
	}
	for len(hs) > 0 {
		n := min(len(hs), blockHashes-slot)
		// A new value: bbolt keeps it until the commit.
		v := make([]byte, (slot+n)*tlog.HashSize)
		copy(v, old[:min(len(old), slot*tlog.HashSize)])
		for i, h := range hs[:n] {
			copy(v[(slot+i)*tlog.HashSize:], h[:])
		}
		if err := b.blocks.Put(key(block), v); err != nil {
			return err
		}
		block, slot, old, hs = block+1, 0, nil, hs[n:]
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
