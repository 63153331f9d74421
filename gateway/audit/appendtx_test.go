package audit

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// TestAppendTxSharesTheCallersCommit: entries appended inside another
// writer's transactions, concurrently with group-committed appends, make one
// log that verifies; an invalid entry fails before anything is written, and
// a transaction on another file is refused.
func TestAppendTxSharesTheCallersCommit(t *testing.T) {
	ctx := context.Background()
	l, db := newTestLog(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := l.Append(ctx, sentEntry(i)); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			err := db.Update(func(tx *bolt.Tx) error {
				if err := l.AppendTx(tx, sentEntry(100+2*i), sentEntry(101+2*i)); err != nil {
					return err
				}
				_, err := tx.CreateBucketIfNotExists([]byte("caller"))
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if l.Size() != 60 {
		t.Fatalf("size %d, want 60", l.Size())
	}
	bad := sentEntry(1)
	bad.Kind = "gossip"
	err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, sentEntry(500), bad) })
	if err == nil || l.Size() != 60 {
		t.Fatalf("invalid entry: err %v, size %d", err, l.Size())
	}
	other, _ := newTestDB(t)
	if err := other.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, sentEntry(600)) }); !errors.Is(err, ErrOtherFile) {
		t.Fatalf("transaction on another file: err %v", err)
	}
	head, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := l.RawEntries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, VerifyInput{Entries: raws, Latest: head.Note, Origin: testOrigin, Verifier: testVerifier(t)})
	if err != nil || !rep.OK() {
		t.Fatalf("log does not verify: %v %v", err, rep.Findings)
	}
	entries, err := l.Entries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Index != int64(i) {
			t.Fatalf("entry %d has index %d", i, e.Index)
		}
	}
}

// TestAppendPreparedTx: entries prepared before the transaction, some of
// them appended in it, land in order with their indexes; a Prepared not made
// by Prepare fails with nothing written, and another file is refused.
func TestAppendPreparedTx(t *testing.T) {
	ctx := context.Background()
	l, db := newTestLog(t)
	appendN(t, l, 3)
	es := []Entry{sentEntry(10), sentEntry(11), sentEntry(12)}
	es[1].Time = time.Time{}
	ps, err := l.Prepare(es...)
	if err != nil {
		t.Fatal(err)
	}
	if es[1].Time.IsZero() {
		t.Fatal("Prepare left a zero time in es")
	}
	if err := db.Update(func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, ps[2], ps[1]) }); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 5 {
		t.Fatalf("size %d, want 5", l.Size())
	}
	got, err := l.Entries(ctx, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []Entry{es[2], es[1]} {
		e.Index = int64(3 + i)
		if !got[i].Time.Equal(e.Time) {
			t.Fatalf("entry %d has time %v, want %v", e.Index, got[i].Time, e.Time)
		}
		got[i].Time = e.Time
		if !reflect.DeepEqual(got[i], e) {
			t.Fatalf("entry %d is %+v, want %+v", e.Index, got[i], e)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, ps[0], Prepared{}) }); err == nil || l.Size() != 5 {
		t.Fatalf("zero Prepared: err %v, size %d", err, l.Size())
	}
	bad := sentEntry(1)
	bad.Kind = "gossip"
	if _, err := l.Prepare(sentEntry(1), bad); err == nil {
		t.Fatal("Prepare accepted an invalid entry")
	}
	other, _ := newTestDB(t)
	if err := other.Update(func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, ps[0]) }); !errors.Is(err, ErrOtherFile) {
		t.Fatalf("transaction on another file: err %v", err)
	}
}

// TestAFailedAppendWritesNothing: a store's group commit commits the other
// writes of a transaction whose AppendTx failed (and that one's writes
// before its error), so an append that fails on a missing tree hash must
// have written nothing: no entry past the log's size, no block.
func TestAFailedAppendWritesNothing(t *testing.T) {
	for _, c := range []struct {
		name string
		size int // entries before; the block holding their last hashes goes
	}{
		// Entry 41 reads entry 40's leaf hash, in the block removed.
		{"a hash the entry needs is missing", 41},
		// Entry 40 reads nothing, but its hashes extend the block removed.
		{"the block the append extends is missing", 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, db := newTestLog(t)
			appendN(t, l, c.size)
			last := tlog.StoredHashCount(int64(c.size)) - 1
			if err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(l.cfg.Bucket)).Bucket(bucketBlocks).Delete(key(last / blockHashes))
			}); err != nil {
				t.Fatal(err)
			}
			before := dumpLog(t, db, l.cfg.Bucket)
			appendErr := inCallersTx(t, db, func(tx *bolt.Tx) error { return l.AppendTx(tx, sentEntry(c.size)) })
			if !errors.Is(appendErr, ErrCorrupt) {
				t.Fatalf("append over a missing block: err %v, want ErrCorrupt", appendErr)
			}
			if after := dumpLog(t, db, l.cfg.Bucket); !reflect.DeepEqual(after, before) {
				t.Errorf("the failed append wrote to the log: %d values before, %d after", len(before), len(after))
			}
		})
	}
}

// dumpLog is every value in the log's nested buckets, by bucket and key.
func dumpLog(t *testing.T, db *bolt.DB, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(name)).ForEachBucket(func(nested []byte) error {
			return tx.Bucket([]byte(name)).Bucket(nested).ForEach(func(k, v []byte) error {
				out[string(nested)+"/"+string(k)] = string(v)
				return nil
			})
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnAppendReadsTheSizeOnce: an append starts from the size buckets
// read, so an append of no entries opens no cursor beyond those of
// buckets but the size's put.
func TestAnAppendReadsTheSizeOnce(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 3)
	err := db.Update(func(tx *bolt.Tx) error {
		// Opens the buckets, so that the counts below are of keys alone.
		if _, err := l.buckets(tx); err != nil {
			return err
		}
		read, err := cursors(tx, func() error { _, err := l.buckets(tx); return err })
		if err != nil {
			return err
		}
		appended, err := cursors(tx, func() error { _, err := l.appendTx(tx, nil); return err })
		if extra := appended - read; extra != 1 {
			t.Errorf("an append of no entries opened %d cursors beyond the %d of buckets, want 1: the size's put", extra, read)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
