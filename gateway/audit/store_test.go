package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// TestALogThatLostItsSizeIsRefused: a log whose meta bucket has no size,
// or one that is not a size, but that holds entries is refused on open with
// ErrCorrupt, naming the file, the buckets and the key, and its file is left
// byte for byte as it was. Read as empty, it would take its next appends
// over the entries it holds.
func TestALogThatLostItsSizeIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		size []byte // nil deletes the key
	}{
		{"missing", nil},
		{"short", []byte{0, 0, 0, 5}},
		{"negative", key(-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedLog(t, 5, setMeta(keySize, tc.size))
			checkRefused(t, path, cfg, before, fmt.Sprintf("%q", bucketMeta), fmt.Sprintf("%q", keySize))
		})
	}
}

// TestALogWithABadBlocksFromIsRefused: where the hash blocks start is
// read with the size by every transaction; a log whose blocks_from is gone,
// malformed or past its tree hashes is refused naming the file and the key.
func TestALogWithABadBlocksFromIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte // nil deletes the key
		want  string
	}{
		{"missing", nil, "is missing or not 8 bytes"},
		{"short", []byte{0, 1}, "is missing or not 8 bytes"},
		{"past the hashes", key(1 << 20), fmt.Sprintf("start at %d, outside the log's", 1<<20)},
		{"negative", key(-1), "start at -1, outside the log's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedLog(t, 5, setMeta(keyBlocksFrom, tc.value))
			checkRefused(t, path, cfg, before, fmt.Sprintf("%q", bucketMeta), fmt.Sprintf("%q", keyBlocksFrom), tc.want)
		})
	}
}

// TestAnAppendToALogThatLostItsSizeFails: the size is checked wherever it
// is read, so an append in a transaction of a file whose size went missing
// after Open fails, and writes nothing over the entry at position 0.
func TestAnAppendToALogThatLostItsSizeFails(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 3)
	putMeta(t, db, l.cfg.Bucket, keySize, nil)
	err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, sentEntry(9)) })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("append: %v, want %v", err, ErrCorrupt)
	}
	putMeta(t, db, l.cfg.Bucket, keySize, key(3))
	es, err := l.Entries(t.Context(), 0, 4)
	if err != nil || len(es) != 3 || es[0].EnvelopeID != sentEntry(0).EnvelopeID {
		t.Errorf("entries after the failed append: %v, %v; want the 3 appended", es, err)
	}
}

// TestANewLogWithoutSizeOpensEmpty: a log never appended to has no size
// yet, and opens again as empty.
func TestANewLogWithoutSizeOpensEmpty(t *testing.T) {
	db, _ := newTestDB(t)
	cfg := testConfig(t)
	for range 2 {
		l, err := Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := l.Size(); n != 0 {
			t.Errorf("size %d, want 0", n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if v := getMeta(t, db, cfg.Bucket, keySize); v != nil {
		t.Fatalf("a new log has size %x; the test wants one without", v)
	}
}

// closedLog builds a log of n entries in a file of its own, closes it,
// runs edit on the log's bucket with bbolt directly, as an operator's
// tool or an attacker with the file would, and returns the file's path,
// the log's configuration and the file's bytes after the edit.
func closedLog(t *testing.T, n int, edit func(top *bolt.Bucket) error) (string, Config, []byte) {
	t.Helper()
	return closedSignedLog(t, n, false, edit)
}

// closedSignedLog is closedLog, with a head signed for the n entries if
// sign is set.
func closedSignedLog(t *testing.T, n int, sign bool, edit func(top *bolt.Bucket) error) (string, Config, []byte) {
	t.Helper()
	db, path := newTestDB(t)
	cfg := testConfig(t)
	l, err := Open(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, n)
	if sign {
		if _, err := l.SignedHead(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return edit(tx.Bucket([]byte(cfg.Bucket))) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg, before
}

// checkRefused opens the log closedLog made and wants ErrCorrupt, an error
// that says the file, the log's bucket and each of want, and the file
// byte for byte as it was.
func checkRefused(t *testing.T, path string, cfg Config, before []byte, want ...string) {
	t.Helper()
	checkRefusedAs(t, ErrCorrupt, path, cfg, before, want...)
}

// checkRefusedAs is checkRefused wanting the error wantErr.
func checkRefusedAs(t *testing.T, wantErr error, path string, cfg Config, before []byte, want ...string) {
	t.Helper()
	l, err := OpenFile(path, cfg)
	if err == nil {
		l.Close()
		t.Fatal("opened")
	}
	if !errors.Is(err, wantErr) {
		t.Errorf("err %v, want %v", err, wantErr)
	}
	for _, s := range append([]string{path, fmt.Sprintf("%q", cfg.Bucket)}, want...) {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %s", err, s)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, before) {
		t.Error("opening changed the log's file")
	}
}

// edits chains edits of a log's bucket.
func edits(fs ...func(top *bolt.Bucket) error) func(top *bolt.Bucket) error {
	return func(top *bolt.Bucket) error {
		for _, f := range fs {
			if err := f(top); err != nil {
				return err
			}
		}
		return nil
	}
}

// setSize puts n as meta's size.
func setSize(n int64) func(top *bolt.Bucket) error { return setMeta(keySize, key(n)) }

// setMeta puts v as meta's k, or deletes k if v is nil.
func setMeta(k, v []byte) func(top *bolt.Bucket) error {
	return func(top *bolt.Bucket) error {
		meta := top.Bucket(bucketMeta)
		if v == nil {
			return meta.Delete(k)
		}
		return meta.Put(k, v)
	}
}

// deleteKeys deletes the keys from..to-1 of nested bucket name.
func deleteKeys(name []byte, from, to int64) func(top *bolt.Bucket) error {
	return func(top *bolt.Bucket) error {
		for i := from; i < to; i++ {
			if err := top.Bucket(name).Delete(key(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestALogWhoseBucketsEndElsewhereThanItsSizeIsRefused: open refuses with
// ErrCorrupt, naming the file, the buckets and what it found, a log whose
// entries, tree hash blocks or hashes of before hash blocks do not end
// where meta's size says, and leaves its file as it was. A size smaller
// than the log would have its next appends take positions it holds.
func TestALogWhoseBucketsEndElsewhereThanItsSizeIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		edit func(top *bolt.Bucket) error
		want []string
	}{
		{"entries past the size", 15, setSize(10),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 10 but entry 14 exists"}},
		{"entries past a size of 0", 15, setSize(0),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 0 but entry 14 exists"}},
		{"entries end before the size", 15, deleteKeys(bucketEntries, 10, 15),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 15 but the last entry is 9"}},
		{"no entries under a size", 15, deleteKeys(bucketEntries, 0, 15),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 15 but there is no entry"}},
		{"tree hashes past the size", 15, edits(setSize(10), deleteKeys(bucketEntries, 10, 15)),
			[]string{fmt.Sprintf("%q", bucketBlocks), fmt.Sprintf("block 0 holds %d tree hashes, want %d", tlog.StoredHashCount(15), tlog.StoredHashCount(10))}},
		{"a hash block past the size", 40, edits(setSize(10), deleteKeys(bucketEntries, 10, 40)),
			[]string{fmt.Sprintf("%q", bucketBlocks), "block 1 exists"}},
		{"hashes at blocks_from", 5, func(top *bolt.Bucket) error {
			return top.Bucket(bucketHashes).Put(key(0), make([]byte, tlog.HashSize))
		}, []string{fmt.Sprintf("%q", bucketHashes), "blocks_from is 0 but tree hash 0 exists"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedLog(t, tc.n, tc.edit)
			checkRefused(t, path, cfg, before, tc.want...)
		})
	}
}

// TestAnAppendOverEntriesPastTheSizeFails: an append whose positions or
// tree hashes the log already holds, because meta's size went down after
// Open, fails with ErrCorrupt, naming the file, the buckets and what it
// found, and writes nothing, whether it has a
// transaction of its own (Append) or shares its caller's (AppendTx,
// AppendPreparedTx), whose other writes commit as the caller decides.
func TestAnAppendOverEntriesPastTheSizeFails(t *testing.T) {
	ways := []struct {
		name   string
		append func(l *Log, db *bolt.DB, e Entry) error
	}{
		{"Append", func(l *Log, db *bolt.DB, e Entry) error { _, err := l.Append(t.Context(), e); return err }},
		{"AppendTx", func(l *Log, db *bolt.DB, e Entry) error {
			return inCallersTx(t, db, func(tx *bolt.Tx) error { return l.AppendTx(tx, e) })
		}},
		{"AppendPreparedTx", func(l *Log, db *bolt.DB, e Entry) error {
			ps, err := l.Prepare(e)
			if err != nil {
				t.Fatal(err)
			}
			return inCallersTx(t, db, func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, ps...) })
		}},
	}
	for _, tc := range []struct {
		name string
		n    int
		edit func(top *bolt.Bucket) error
		want []string // what the error says besides the file and the log's bucket
	}{
		{"an entry at the size", 15, setSize(10),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 10 but entry 14 exists"}},
		// A read of position 10 alone would miss entry 11.
		{"an entry past the size only", 15, edits(setSize(10), deleteKeys(bucketEntries, 10, 11)),
			[]string{fmt.Sprintf("%q", bucketEntries), "meta size is 10 but entry 14 exists"}},
		{"tree hashes past the size", 15, edits(setSize(10), deleteKeys(bucketEntries, 10, 15)),
			[]string{fmt.Sprintf("%q", bucketBlocks), fmt.Sprintf("block 0 holds hashes at and past %d", tlog.StoredHashCount(10))}},
		{"a hash block past the size", 40, edits(setSize(10), deleteKeys(bucketEntries, 10, 40)),
			[]string{fmt.Sprintf("%q", bucketBlocks), "block 1 exists past block 0"}},
	} {
		for _, way := range ways {
			t.Run(tc.name+"/"+way.name, func(t *testing.T) {
				l, db := newTestLog(t)
				appendN(t, l, tc.n)
				if err := db.Update(func(tx *bolt.Tx) error { return tc.edit(tx.Bucket([]byte(l.cfg.Bucket))) }); err != nil {
					t.Fatal(err)
				}
				before := dumpLog(t, db, l.cfg.Bucket)
				err := way.append(l, db, sentEntry(99))
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("append: %v, want %v", err, ErrCorrupt)
				}
				for _, s := range append([]string{db.Path(), fmt.Sprintf("%q", l.cfg.Bucket)}, tc.want...) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %s", err, s)
					}
				}
				if after := dumpLog(t, db, l.cfg.Bucket); !reflect.DeepEqual(after, before) {
					t.Errorf("the failed append wrote to the log: %d values before, %d after", len(before), len(after))
				}
			})
		}
	}
}

// inCallersTx runs append in a write transaction of db that also creates a
// bucket of the caller's and commits whatever append returns, as the
// node's store commits a group of writes one of which failed; it returns
// append's error.
func inCallersTx(t *testing.T, db *bolt.DB, append func(tx *bolt.Tx) error) error {
	t.Helper()
	var appendErr error
	if err := db.Update(func(tx *bolt.Tx) error {
		appendErr = append(tx)
		_, err := tx.CreateBucketIfNotExists([]byte("caller"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return appendErr
}

// TestSignedHeadsAboveTheLogAreRefused: open refuses with ErrCorrupt,
// naming the file, the buckets and the head, a log that holds a signed head
// for more entries than its size, and leaves its file as it was: a log
// whose entries and tree hashes were deleted with its size, down to none
// or to fewer, would otherwise open as if it had never held them, and take
// its next appends where the head's entries were.
func TestSignedHeadsAboveTheLogAreRefused(t *testing.T) {
	// emptied deletes every entry and tree hash, and the size if size is
	// negative, else sets it.
	emptied := func(n int, size int64) func(top *bolt.Bucket) error {
		setOrDelete := setSize(size)
		if size < 0 {
			setOrDelete = setMeta(keySize, nil)
		}
		return edits(setOrDelete, deleteKeys(bucketEntries, 0, int64(n)), deleteKeys(bucketBlocks, 0, 1))
	}
	for _, tc := range []struct {
		name string
		n    int
		edit func(top *bolt.Bucket) error
		want string
	}{
		{"an emptied log of size 0", 5, emptied(5, 0), "meta size is 0 but a head for size 5 exists"},
		{"an emptied log without a size", 5, emptied(5, -1), "meta size is 0 but a head for size 5 exists"},
		{"a log cut short", 10, edits(setSize(5), deleteKeys(bucketEntries, 5, 10), func(top *bolt.Bucket) error {
			blocks := top.Bucket(bucketBlocks)
			return blocks.Put(key(0), bytes.Clone(blocks.Get(key(0))[:tlog.StoredHashCount(5)*tlog.HashSize]))
		}), "meta size is 5 but a head for size 10 exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedSignedLog(t, tc.n, true, tc.edit)
			checkRefused(t, path, cfg, before, fmt.Sprintf("%q", bucketHeads), tc.want)
		})
	}
}

// TestSignedHeadUnderAHeadAboveTheSizeFails: a running log whose size went
// down under a head it signed, after Open checked it, refuses to sign
// another with ErrCorrupt naming the heads bucket, and stores no head: one
// for the smaller size would contradict the head auditors already hold.
func TestSignedHeadUnderAHeadAboveTheSizeFails(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 10)
	if _, err := l.SignedHead(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return edits(setSize(5), deleteKeys(bucketEntries, 5, 10))(tx.Bucket([]byte(l.cfg.Bucket)))
	}); err != nil {
		t.Fatal(err)
	}
	before := dumpLog(t, db, l.cfg.Bucket)
	_, err := l.SignedHead(t.Context())
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("signed head: %v, want %v", err, ErrCorrupt)
	}
	for _, s := range []string{db.Path(), fmt.Sprintf("%q", bucketHeads), "meta size is 5 but a head for size 10 exists"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %s", err, s)
		}
	}
	if after := dumpLog(t, db, l.cfg.Bucket); !reflect.DeepEqual(after, before) {
		t.Errorf("the refused head changed the log: %d values before, %d after", len(before), len(after))
	}
}
