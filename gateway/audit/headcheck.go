package audit

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// lastHead is the last head the log holds, and false if it holds none.
func (l *Log) lastHead(b buckets) (Head, bool, error) {
	k, v := b.heads.Cursor().Last()
	if k == nil {
		return Head{}, false, nil
	}
	h, err := headFromStore(l.cfg.Origin, unkey(k), v)
	return h, err == nil, err
}

// checkLastHead is open's check of the last head the log holds, if any:
// that it is signed by the configured key (checkHeadKey), and that the
// stored tree hashes still give its root (checkHeadRoot). One head and
// O(log size) tree hashes read, however many heads the log holds.
func (l *Log) checkLastHead(tx *bolt.Tx, b buckets) error {
	h, ok, err := l.lastHead(b)
	if !ok || err != nil {
		return err
	}
	if err := l.checkHeadKey(tx, h); err != nil {
		return err
	}
	return l.checkHeadRoot(tx, b, h)
}

// checkHeadRoot requires the tree hashes stored to give h's root at h's
// size. A changed hash under it would have the log sign heads that do not
// extend h, and blame intact entries when it checks itself.
func (l *Log) checkHeadRoot(tx *bolt.Tx, b buckets, h Head) error {
	root, err := treeHash(h.Size, hashReader{b})
	if err != nil {
		return err
	}
	if root != h.Root {
		return l.treeCorrupt(tx, fmt.Sprintf("the last signed head, of size %d, signed root %x..., but they give %x...", h.Size, h.Root[:4], root[:4]))
	}
	return nil
}

// checkExtends requires the tree of size entries with root, as the stored
// tree hashes give it, to extend last, by a consistency proof read from the
// same hashes: a hash changed within the tree last covers, but not on the
// path to its root, still gives a new root that does not extend it.
// checkHeadRoot has held last to the stored hashes.
func (l *Log) checkExtends(tx *bolt.Tx, b buckets, last Head, size int64, root tlog.Hash) error {
	if last.Size == 0 || last.Size == size {
		return nil
	}
	p, err := tlog.ProveTree(size, last.Size, hashReader{b})
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(p, size, root, last.Size, last.Root); err != nil {
		return l.treeCorrupt(tx, fmt.Sprintf("the tree of %d entries they give does not extend the last signed head, of size %d", size, last.Size))
	}
	return nil
}

// treeCorrupt is ErrCorrupt for stored tree hashes that contradict the last
// signed head: which file and buckets, what is wrong, and what to do.
func (l *Log) treeCorrupt(tx *bolt.Tx, problem string) error {
	return fmt.Errorf("%w: %s, bucket %q, tree hashes (nested buckets %q and %q): %s; a tree hash was changed, and the log signs no head over it: restore the data directory from a backup",
		ErrCorrupt, tx.DB().Path(), l.cfg.Bucket, bucketHashes, bucketBlocks, problem)
}
