package audit

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// Format versions of a log's storage, kept in its meta bucket under
// keyFormat. A release opens logs up to currentFormat and refuses newer
// ones outright: without a version, an older release would only fail deep
// in a read, at the first tree hash it cannot find, and might append
// before that.
const (
	// formatHashPerKey keeps every tree hash under its own StoredHashIndex
	// in bucketHashes. Logs of this format were written before format
	// versions and have no keyFormat.
	formatHashPerKey = 1
	// formatHashBlocks keeps the tree hashes from meta's blocks_from on in
	// bucketBlocks, blockHashes to a value; those before it stay in
	// bucketHashes.
	formatHashBlocks = 2
	// currentFormat is the format this release writes and the newest it
	// opens.
	currentFormat = formatHashBlocks
)

// keyFormat in bucketMeta holds the log's format version, 8 bytes
// big-endian.
var keyFormat = []byte("format")

// ErrNewerFormat reports a log written by a newer release, in a format
// this one cannot read. Open wraps it and changes nothing in the log.
var ErrNewerFormat = errors.New("audit log is in a newer format")

// storedFormat is the format version of the log whose meta bucket is
// meta, or 0 for a log written before format versions, whose format is
// told by what it holds (see upgradeFormat).
func storedFormat(meta *bolt.Bucket) (int64, error) {
	v := meta.Get(keyFormat)
	switch {
	case v == nil:
		return 0, nil
	case len(v) != 8 || unkey(v) < formatHashPerKey:
		return 0, fmt.Errorf("%w: format version %x is not one; restore the data directory from a backup", ErrCorrupt, v)
	}
	return unkey(v), nil
}

// checkFormat returns the format version of the log in bucket name of tx's
// file (storedFormat), for upgradeFormat, and refuses the log if a newer
// release wrote it. A log not created yet has no format to check: 0, as
// for a log written before format versions.
func checkFormat(tx *bolt.Tx, name string) (int64, error) {
	top := tx.Bucket([]byte(name))
	if top == nil || top.Bucket(bucketMeta) == nil {
		return 0, nil
	}
	f, err := storedFormat(top.Bucket(bucketMeta))
	if err != nil {
		return 0, fmt.Errorf("%s, bucket %q: %w", tx.DB().Path(), name, err)
	}
	if f > currentFormat {
		return 0, fmt.Errorf("%w: %s, bucket %q, is format %d and this release reads formats up to %d: "+
			"run the release that wrote it (or a newer one), or restore the copy of the data directory taken before the upgrade",
			ErrNewerFormat, tx.DB().Path(), name, f, currentFormat)
	}
	return f, nil
}

// upgradeFormat brings the log whose meta bucket is meta, of format f as
// checkFormat read it in the same transaction, to currentFormat, and
// leaves a newer one (which checkFormat refuses) as it is. A log without
// a version is read by what it holds: without blocks_from it is of
// formatHashPerKey, keeps the tree hashes it has where they are and stores
// those that follow in blocks from blocks_from on; with it, it was written
// by the release that brought hash blocks, before format versions, and
// only gains its version.
func upgradeFormat(meta *bolt.Bucket, f int64) error {
	if f >= currentFormat {
		return nil
	}
	// Never moved once set: the hashes before it are under their own keys.
	if meta.Get(keyBlocksFrom) == nil {
		var size int64
		if v := meta.Get(keySize); len(v) == 8 {
			size = unkey(v)
		}
		if err := meta.Put(keyBlocksFrom, key(tlog.StoredHashCount(size))); err != nil {
			return err
		}
	}
	return meta.Put(keyFormat, key(currentFormat))
}
