package audit

import (
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// TestBatchedAppendsStoreTheTreeHashes appends entries in calls of
// different sizes, one or several to a transaction as the exchange makes
// them, so that tree hashes are read both from those the same call
// computed and from the buckets, and blocks are extended by later calls
// in the same transaction; it checks every tree hash stored against the
// hashes of the entries themselves.
func TestBatchedAppendsStoreTheTreeHashes(t *testing.T) {
	for _, calls := range []int{1, 3} {
		for _, batch := range []int{1, 2, 3, 7, 64} {
			l, db := newTestLog(t)
			const n = 150
			for done := 0; done < n; {
				if err := db.Update(func(tx *bolt.Tx) error {
					for range calls {
						es := sentEntries(done, min(batch, n-done))
						if err := l.AppendTx(tx, es...); err != nil {
							return err
						}
						done += len(es)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			checkStoredHashes(t, l, db, n)
		}
	}
}

// checkStoredHashes fails t unless the log's first n entries have the tree
// hashes tlog stores for them.
func checkStoredHashes(t *testing.T, l *Log, db *bolt.DB, n int) {
	t.Helper()
	raw, err := l.RawEntries(context.Background(), 0, int64(n))
	if err != nil || len(raw) != n {
		t.Fatalf("%d raw entries, %v", len(raw), err)
	}
	var want tlog.HashReaderFunc
	var stored []tlog.Hash
	want = func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	}
	for i, e := range raw {
		hs, err := tlog.StoredHashes(int64(i), e.Data, want)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		got, err := hashReader{b}.ReadHashes(indexRange(len(stored)))
		if err != nil {
			return err
		}
		for x := range stored {
			if got[x] != stored[x] {
				t.Errorf("tree hash %d is %v, want %v", x, got[x], stored[x])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func indexRange(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

// TestAppendedHashesRefuseAGap: an append stores the hashes it kept as one
// run from first, so an add whose hashes do not follow them is refused,
// and what was kept stays as it was.
func TestAppendedHashesRefuseAGap(t *testing.T) {
	r := &appendedHashes{hs: make([]tlog.Hash, 0, 4)}
	a, b := tlog.Hash{1}, tlog.Hash{2}
	if err := r.add(0, a); err != nil {
		t.Fatal(err)
	}
	// Entry 2 completes no subtree, so nothing is read; its hashes are not
	// at the index after entry 0's.
	if err := r.add(2, b); err == nil {
		t.Error("entry 2's hashes were kept after entry 0's")
	}
	if r.first != 0 || len(r.hs) != 1 || r.hs[0] != a {
		t.Errorf("kept %v from %d, want [%v] from 0", r.hs, r.first, a)
	}
}

// TestALogWrittenBeforeHashBlocks: a log whose tree hashes were stored one
// key each keeps them there and stores those of later appends in blocks;
// hashes, roots and proofs across the two hold, as after a restart.
func TestALogWrittenBeforeHashBlocks(t *testing.T) {
	const before, after = 37, 70 // 37 entries store 71 hashes: blocks start inside one
	l, db := newTestLog(t)
	// appendSent appends sent entries from from on in one transaction,
	// one AppendTx call for each of sizes.
	appendSent := func(from int, sizes ...int) {
		t.Helper()
		err := db.Update(func(tx *bolt.Tx) error {
			for _, n := range sizes {
				es := sentEntries(from, n)
				if err := l.AppendTx(tx, es...); err != nil {
					return err
				}
				from += n
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendSent(0, before)
	// Lay the log out as one written before hash blocks: every tree hash
	// under its own key, none in blocks, and neither blocks_from nor a
	// format version, as open finds such a log.
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		stored := tlog.StoredHashCount(before)
		hs, err := hashReader{b}.ReadHashes(indexRange(int(stored)))
		if err != nil {
			return err
		}
		for x, h := range hs {
			if err := b.hashes.Put(key(int64(x)), h[:]); err != nil {
				return err
			}
		}
		top := tx.Bucket([]byte(l.cfg.Bucket))
		if err := top.DeleteBucket(bucketBlocks); err != nil {
			return err
		}
		if err := b.meta.Delete(keyFormat); err != nil {
			return err
		}
		return b.meta.Delete(keyBlocksFrom)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(db, testConfig(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	// The first append starts the block holding blocks_from; the next,
	// in a transaction of its own, extends it past the slots that stand
	// for the hashes under their own keys.
	appendSent(before, 1)
	appendSent(before+1, 2, 3)
	appendSent(before+6, after-6)
	checkStoredHashes(t, l, db, before+after)
	if err := db.View(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		if b.blocksFrom != tlog.StoredHashCount(before) || b.hashes.Stats().KeyN != int(b.blocksFrom) {
			t.Errorf("blocks from %d with %d hashes under their own keys, want both %d", b.blocksFrom, b.hashes.Stats().KeyN, tlog.StoredHashCount(before))
		}
		if v := b.meta.Get(keyFormat); len(v) != 8 || unkey(v) != currentFormat {
			t.Errorf("upgraded log's format version is %x, want %d", v, currentFormat)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := l.RootAt(ctx, before+after)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := l.RawEntries(ctx, 0, before+after)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int64{0, before - 1, before, before + after - 1} {
		p, err := l.InclusionProof(ctx, i, before+after)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, before+after, root, i, tlog.RecordHash(raw[i].Data)); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
}

// TestReadHashOutsideTheStoredOnes: an index before 0 or past the hashes
// stored is ErrCorrupt, in a log whose blocks start at 0 as in one whose
// hashes before blocks_from are under their own keys.
func TestReadHashOutsideTheStoredOnes(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 5) // 8 hashes, all in block 0
	for _, blocksFrom := range []int64{0, 3} {
		if err := db.View(func(tx *bolt.Tx) error {
			b, err := l.buckets(tx)
			if err != nil {
				return err
			}
			b.blocksFrom = blocksFrom
			for _, x := range []int64{-1, -64, -65, 8, 63, 64} {
				if _, err := (hashReader{b}).readHash(x); !errors.Is(err, ErrCorrupt) {
					t.Errorf("blocks from %d: hash %d: err %v, want ErrCorrupt", blocksFrom, x, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBlocksFromOutsideTheLog: a blocks_from that is negative or past the
// hashes the log's entries store is ErrCorrupt, not hashes read from the
// wrong place (a negative one would send negative indexes to the blocks).
func TestBlocksFromOutsideTheLog(t *testing.T) {
	for _, v := range [][]byte{key(-1), key(tlog.StoredHashCount(5) + 1), {1}} {
		l, db := newTestLog(t)
		appendN(t, l, 5)
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(l.cfg.Bucket)).Bucket(bucketMeta).Put(keyBlocksFrom, v)
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.RootAt(context.Background(), 5); !errors.Is(err, ErrCorrupt) {
			t.Errorf("blocks_from %x: err %v, want ErrCorrupt", v, err)
		}
	}
}
