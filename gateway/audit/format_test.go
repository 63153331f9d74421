package audit

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// putMeta puts v under k in the meta bucket of the log in bucket, or
// deletes k if v is nil.
func putMeta(t *testing.T, db *bolt.DB, bucket string, k, v []byte) {
	t.Helper()
	if err := db.Update(func(tx *bolt.Tx) error { return setMeta(k, v)(tx.Bucket([]byte(bucket))) }); err != nil {
		t.Fatal(err)
	}
}

// getMeta is a copy of the value under k in the meta bucket of the log in
// bucket.
func getMeta(t *testing.T, db *bolt.DB, bucket string, k []byte) []byte {
	t.Helper()
	var v []byte
	if err := db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte(bucket)).Bucket(bucketMeta).Get(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestANewLogCarriesTheCurrentFormat: the version is written when the log
// is created, before any entry.
func TestANewLogCarriesTheCurrentFormat(t *testing.T) {
	l, db := newTestLog(t)
	if v := getMeta(t, db, l.cfg.Bucket, keyFormat); len(v) != 8 || unkey(v) != currentFormat {
		t.Errorf("new log's format version is %x, want %d", v, currentFormat)
	}
}

// TestALogWithHashBlocksButNoFormatGetsOne: a log written by the release
// that brought hash blocks, before format versions, is of formatHashBlocks
// by what it holds; open writes its version and leaves blocks_from and the
// tree hashes as they were.
func TestALogWithHashBlocksButNoFormatGetsOne(t *testing.T) {
	const n = 40
	l, db := newTestLog(t)
	appendN(t, l, n)
	ctx := context.Background()
	root, err := l.RootAt(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	blocksFrom := getMeta(t, db, l.cfg.Bucket, keyBlocksFrom)
	putMeta(t, db, l.cfg.Bucket, keyFormat, nil)

	if l, err = Open(db, testConfig(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if v := getMeta(t, db, l.cfg.Bucket, keyFormat); len(v) != 8 || unkey(v) != currentFormat {
		t.Errorf("format version is %x, want %d", v, currentFormat)
	}
	if v := getMeta(t, db, l.cfg.Bucket, keyBlocksFrom); !bytes.Equal(v, blocksFrom) {
		t.Errorf("blocks_from is %x, was %x", v, blocksFrom)
	}
	if got, err := l.RootAt(ctx, n); err != nil || got != root {
		t.Errorf("root %v, %v; want %v", got, err, root)
	}
	checkStoredHashes(t, l, db, n)
}

// TestALogOfAnUnknownFormatIsRefused: a log whose format version is newer
// than this release's, or not a version at all, is refused with an error
// that says so, and its file is left byte for byte as it was.
func TestALogOfAnUnknownFormatIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version []byte
		want    error
		wantIn  []string // in the error besides the file and the bucket
	}{
		{"newer", key(currentFormat + 1), ErrNewerFormat, []string{
			fmt.Sprintf("format %d", currentFormat+1),
			fmt.Sprintf("up to %d", currentFormat),
			"restore the copy of the data directory",
		}},
		{"zero", key(0), ErrCorrupt, []string{"0000000000000000"}},
		{"short", []byte{currentFormat}, ErrCorrupt, []string{"format version 02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedLog(t, 5, setMeta(keyFormat, tc.version))
			checkRefusedAs(t, tc.want, path, cfg, before, tc.wantIn...)
		})
	}
}

// TestOpeningALogReadsItsFormatOnce: createBuckets, which checks a log's
// format and brings it up to date, reads the format key once. On a log of
// the current format whose buckets the transaction has opened already, it
// reads that key and nothing else.
func TestOpeningALogReadsItsFormatOnce(t *testing.T) {
	l, db := newTestLog(t)
	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := l.buckets(tx); err != nil {
			return err
		}
		n, err := cursors(tx, func() error { return createBuckets(tx, l.cfg.Bucket) })
		if n != 1 {
			t.Errorf("createBuckets opened %d cursors, want 1: the format key's read", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cursors is how many cursors fn opens in tx. bbolt opens one for every
// Get and Put, and for every bucket the transaction had not opened yet, so
// once a writable transaction has opened the log's buckets it counts the
// keys fn reads and writes.
func cursors(tx *bolt.Tx, fn func() error) (int64, error) {
	before := tx.Stats()
	err := fn()
	after := tx.Stats()
	return after.GetCursorCount() - before.GetCursorCount(), err
}
