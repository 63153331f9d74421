package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// flipHash flips a bit of the tree hash stored at index x, in whichever
// bucket holds it, as a bad disk or a hand with the file would.
func flipHash(x int64) func(top *bolt.Bucket) error {
	return func(top *bolt.Bucket) error {
		blocksFrom := unkey(top.Bucket(bucketMeta).Get(keyBlocksFrom))
		b, k, at := top.Bucket(bucketBlocks), key(x/blockHashes), x%blockHashes*tlog.HashSize
		if x < blocksFrom {
			b, k, at = top.Bucket(bucketHashes), key(x), 0
		}
		v := slices.Clone(b.Get(k))
		if int64(len(v)) < at+tlog.HashSize {
			return fmt.Errorf("tree hash %d is not stored", x)
		}
		v[at] ^= 0x01
		return b.Put(k, v)
	}
}

// TestAFlippedTreeHashUnderTheLastHeadIsRefused: a log whose stored tree
// hashes no longer give the root of its last signed head is refused at
// open with ErrCorrupt, naming the file and what to do, and its file is
// left as it was. Opened, it would sign heads over the damaged hashes that
// contradict the head it signed before: a fork under its own key.
func TestAFlippedTreeHashUnderTheLastHeadIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    int64 // read by the root of the last head, of 10 entries
	}{
		{"subtree of 8", tlog.StoredHashIndex(3, 0)},
		{"subtree of 2", tlog.StoredHashIndex(1, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, cfg, before := closedSignedLog(t, 10, true, flipHash(tc.x))
			checkRefused(t, path, cfg, before, "last signed head", "size 10", "restore the data directory from a backup")
		})
	}
}

// TestADamagedLogIsNeverSigned is the reviewer's scenario run through:
// whatever Open lets pass, the node must not then sign a head that does
// not extend its own last head.
func TestADamagedLogIsNeverSigned(t *testing.T) {
	ctx := context.Background()
	path, cfg, _ := closedSignedLog(t, 10, true, flipHash(tlog.StoredHashIndex(3, 0)))
	l, err := OpenFile(path, cfg)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v, want %v", err, ErrCorrupt)
		}
		return // refused at open
	}
	defer l.Close()
	heads, err := l.Heads(ctx)
	if err != nil || len(heads) != 1 {
		t.Fatalf("heads %v, %v", heads, err)
	}
	if _, err := l.Append(ctx, sentEntry(10)); err != nil {
		t.Fatal(err)
	}
	h, err := l.SignedHead(ctx)
	if err == nil {
		p, _ := l.ConsistencyProof(ctx, heads[0].Size, h.Size)
		t.Fatalf("the node signed head %d over a flipped tree hash (consistent with its head %d: %v)",
			h.Size, heads[0].Size, CheckConsistency(p, heads[0], h))
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("SignedHead: %v, want %v", err, ErrCorrupt)
	}
}

// TestSignedHeadRefusesATreeThatDoesNotExtendTheLastHead: tree hashes
// damaged under a running log (the file changed behind it) make
// SignedHead fail with ErrCorrupt, naming the file, and store no head:
// whether the damage changes the last head's root, or only the new root
// (a hash of the new tree over entries the last head covers).
func TestSignedHeadRefusesATreeThatDoesNotExtendTheLastHead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before int   // entries appended after the head, before the damage
		x      int64 // the hash damaged
		after  int   // entries appended after the damage
		want   string
	}{
		// The root of 10 reads the hash of [0,8).
		{"the last head's root", 0, tlog.StoredHashIndex(3, 0), 1, "last signed head"},
		// The root of 16 reads only the hash of [0,16), which the root
		// of 10 does not.
		{"only the new root", 6, tlog.StoredHashIndex(4, 0), 0, "does not extend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			l, db, head := signedLog(t, 10)
			appendN(t, l, tc.before)
			if err := db.Update(func(tx *bolt.Tx) error { return flipHash(tc.x)(tx.Bucket([]byte(l.cfg.Bucket))) }); err != nil {
				t.Fatal(err)
			}
			for i := range tc.after {
				if _, err := l.Append(ctx, sentEntry(100+i)); err != nil {
					t.Fatal(err)
				}
			}
			h, err := l.SignedHead(ctx)
			if err == nil {
				t.Fatalf("signed head %d over a damaged tree", h.Size)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("err %v, want %v", err, ErrCorrupt)
			}
			for _, s := range []string{db.Path(), tc.want, "size 10"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %s", err, s)
				}
			}
			heads, err := l.Heads(ctx)
			if err != nil || len(heads) != 1 || !bytes.Equal(heads[0].Note, head.Note) {
				t.Errorf("heads after the refusal: %d, %v; want only the head of 10", len(heads), err)
			}
			if d := l.Damaged(); !errors.Is(d, ErrCorrupt) {
				t.Errorf("Damaged() = %v after the refusal, want %v", d, ErrCorrupt)
			}
		})
	}
}

// TestAScheduledHeadOverADamagedTreeIsLogged: the schedule's refusal is
// logged at level ERROR, saying what to do, and Damaged reports it until
// a head is signed again.
func TestAScheduledHeadOverADamagedTreeIsLogged(t *testing.T) {
	db, _ := newTestDB(t)
	var logs lockedBuffer
	cfg := testConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ticks := make(chan time.Time)
	l, err := open(db, cfg, ticks)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Damaged() != nil {
		t.Fatalf("a new log is damaged: %v", l.Damaged())
	}
	appendN(t, l, 10)
	ticks <- time.Time{}
	ticks <- time.Time{} // returns once the head of 10 is signed
	flip := func() {
		t.Helper()
		if err := db.Update(func(tx *bolt.Tx) error { return flipHash(tlog.StoredHashIndex(3, 0))(tx.Bucket([]byte(cfg.Bucket))) }); err != nil {
			t.Fatal(err)
		}
	}
	flip()
	appendN(t, l, 1)
	ticks <- time.Time{}
	ticks <- time.Time{} // returns once the tick before was handled
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "restore its data directory from a backup") {
		t.Errorf("the node's log says %q, want an error saying to restore", logs.String())
	}
	if !errors.Is(l.Damaged(), ErrCorrupt) {
		t.Errorf("Damaged() = %v, want %v", l.Damaged(), ErrCorrupt)
	}
	flip() // back as it was
	if _, err := l.SignedHead(t.Context()); err != nil || l.Damaged() != nil {
		t.Errorf("once mended: %v, Damaged() = %v", err, l.Damaged())
	}
}

// TestSignedHeadStillSignsAnIntactLog: the checks pass on a log that was
// not damaged, from the empty head on, across hash blocks and over a log
// written before hash blocks.
func TestSignedHeadStillSignsAnIntactLog(t *testing.T) {
	ctx := t.Context()
	l, _ := newTestLog(t)
	var last Head
	for _, n := range []int{0, 1, 2, 5, 64, 200} {
		appendN(t, l, n)
		h, err := l.SignedHead(ctx)
		if err != nil {
			t.Fatalf("after %d more: %v", n, err)
		}
		p, err := l.ConsistencyProof(ctx, last.Size, h.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckConsistency(p, last, h); err != nil {
			t.Fatal(err)
		}
		last = h
	}
}

// lockedBuffer is a log buffer the test reads while the schedule writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
