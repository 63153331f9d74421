package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// testClock is a clock tests move by hand.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// newClockedLog is a test log whose heads age by clock, with HeadInterval
// interval; RecentHead's waits move clock on by what they wait.
func newClockedLog(t *testing.T, interval time.Duration) (*Log, *testClock) {
	t.Helper()
	clock := &testClock{now: t0}
	db, _ := newTestDB(t)
	cfg := testConfig(t)
	cfg.Now, cfg.HeadInterval = clock.Now, interval
	l, err := Open(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.after = func(d time.Duration) <-chan time.Time {
		clock.advance(d)
		c := make(chan time.Time, 1)
		c <- clock.now
		return c
	}
	return l, clock
}

// storedHeads counts the heads the log holds.
func storedHeads(t *testing.T, l *Log) int {
	t.Helper()
	heads, err := l.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(heads)
}

// TestRecentHeadSignsAtMostOneHeadAnInterval: an auditor polling a log
// that grows between every two polls gets the newest stored head while it
// is younger than HeadInterval, so 100 polls in half an interval store one
// head, not 100 (each a signature and a synced write); a poll once the
// interval is over gets a new head, covering every entry logged since, and
// consistent with the one before.
func TestRecentHeadSignsAtMostOneHeadAnInterval(t *testing.T) {
	ctx := t.Context()
	l, clock := newClockedLog(t, time.Second)
	appendN(t, l, 1)
	first, err := l.RecentHead(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		appendN(t, l, 1)
		clock.advance(5 * time.Millisecond)
		h, err := l.RecentHead(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.Size != first.Size {
			t.Fatalf("a poll %s after the head of %d entries got one of %d; want the same head within %s", clock.now.Sub(t0), first.Size, h.Size, time.Second)
		}
	}
	if n := storedHeads(t, l); n != 1 {
		t.Fatalf("100 polls within one head interval stored %d heads, want 1", n)
	}
	clock.advance(time.Second)
	later, err := l.RecentHead(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if later.Size != l.Size() || later.Size != 101 {
		t.Errorf("the poll after the interval got a head of %d entries; the log holds %d", later.Size, l.Size())
	}
	if n := storedHeads(t, l); n != 2 {
		t.Errorf("%d heads stored after the interval, want 2", n)
	}
	p, err := l.ConsistencyProof(ctx, first.Size, later.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistency(p, first, later); err != nil {
		t.Errorf("the later head does not extend the first: %v", err)
	}
}

// TestAuditSignsAtMostOneHeadAnInterval: the node's own verify (Audit, what
// POST /api/v1/audit/verify runs) takes its head as RecentHead serves it,
// so two verifies of a growing log within one HeadInterval store one head,
// not two; the second checks every entry that head covers and counts the
// entry logged since as unsigned. Once the interval is over, a verify
// checks the whole log against a new head.
func TestAuditSignsAtMostOneHeadAnInterval(t *testing.T) {
	ctx := t.Context()
	l, clock := newClockedLog(t, time.Second)
	appendN(t, l, 3)
	if _, err := l.Audit(ctx, nil, testVerifier(t)); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1)
	clock.advance(100 * time.Millisecond)
	rep, err := l.Audit(ctx, nil, testVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := storedHeads(t, l); n != 1 {
		t.Fatalf("two verifies within one head interval stored %d heads, want 1", n)
	}
	if !rep.OK() || rep.Latest.Size != 3 || rep.Checked != 3 || rep.Unsigned != 1 {
		t.Errorf("the second verify: head of %d, checked %d, unsigned %d, findings %v; want the head of 3 checked whole and 1 unsigned",
			rep.Latest.Size, rep.Checked, rep.Unsigned, rep.Findings)
	}
	clock.advance(time.Second)
	rep, err = l.Audit(ctx, nil, testVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Latest.Size != 4 || rep.Checked != 4 || rep.Unsigned != 0 {
		t.Errorf("the verify after the interval: head of %d, checked %d, unsigned %d, findings %v; want a new head of 4 checked whole",
			rep.Latest.Size, rep.Checked, rep.Unsigned, rep.Findings)
	}
	if n := storedHeads(t, l); n != 2 {
		t.Errorf("%d heads stored after the interval, want 2", n)
	}
}

// TestRecentHeadOfAnIdleLogWritesNothing: a log that did not grow serves
// its head however old, without a new one.
func TestRecentHeadOfAnIdleLogWritesNothing(t *testing.T) {
	l, clock := newClockedLog(t, time.Second)
	appendN(t, l, 3)
	for range 5 {
		if h, err := l.RecentHead(t.Context(), 0); err != nil || h.Size != 3 {
			t.Fatalf("RecentHead = size %d, %v; want 3", h.Size, err)
		}
		clock.advance(time.Hour)
	}
	if n := storedHeads(t, l); n != 1 {
		t.Errorf("an idle log stored %d heads, want 1", n)
	}
}

// TestRecentHeadOfAtLeastWaitsForTheInterval: an auditor who needs a head
// covering an entry that the newest head does not gets one, once the
// interval since that head is over, and no sooner: one signed head an
// interval however many ask. Asked for more than the log holds, it fails
// at once rather than wait for entries that may never come.
func TestRecentHeadOfAtLeastWaitsForTheInterval(t *testing.T) {
	ctx := t.Context()
	l, clock := newClockedLog(t, time.Second)
	appendN(t, l, 2)
	if _, err := l.RecentHead(ctx, 0); err != nil {
		t.Fatal(err)
	}
	signedAt := clock.now
	appendN(t, l, 3)
	clock.advance(200 * time.Millisecond)
	h, err := l.RecentHead(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if h.Size != 5 {
		t.Errorf("RecentHead(5) gave a head of %d entries", h.Size)
	}
	if waited := clock.now.Sub(signedAt); waited != time.Second {
		t.Errorf("the head of 5 was signed %s after the last, want the interval, 1s", waited)
	}
	if n := storedHeads(t, l); n != 2 {
		t.Errorf("%d heads stored, want 2", n)
	}
	// A head that covers what is asked is served as it is.
	if h, err := l.RecentHead(ctx, 4); err != nil || h.Size != 5 {
		t.Errorf("RecentHead(4) = size %d, %v; want the stored head of 5", h.Size, err)
	}
	if _, err := l.RecentHead(ctx, 6); err == nil || !strings.Contains(err.Error(), "the log holds 5") {
		t.Errorf("RecentHead(6) of a log of 5: %v; want it refused", err)
	}
}

// TestRecentHeadWaitEndsWithItsContext: a caller that gives up while it
// waits for a head to be due gets its context's error, and no head is
// signed for it.
func TestRecentHeadWaitEndsWithItsContext(t *testing.T) {
	l, _ := newClockedLog(t, time.Second)
	appendN(t, l, 1)
	if _, err := l.RecentHead(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1)
	ctx, cancel := context.WithCancel(t.Context())
	l.after = func(time.Duration) <-chan time.Time { cancel(); return nil }
	if _, err := l.RecentHead(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("RecentHead with its context cancelled while it waits: %v; want context.Canceled", err)
	}
	if n := storedHeads(t, l); n != 1 {
		t.Errorf("%d heads stored, want 1", n)
	}
}

// TestRecentHeadOfADamagedLogFails: a tree damaged under the running log is
// found by the first head due after it, as SignedHead finds it; and once
// the log is known damaged (here by the schedule's SignedHead), RecentHead
// serves no head, however young, but fails as SignedHead does, so that
// auditors learn of it.
func TestRecentHeadOfADamagedLogFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		found func(*Log) // what finds the damage, if anything
		wait  time.Duration
	}{
		{"found by the head due", func(*Log) {}, time.Second},
		{"known damaged", func(l *Log) { l.SignedHead(t.Context()) }, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			l, clock := newClockedLog(t, time.Second)
			appendN(t, l, 10)
			if _, err := l.RecentHead(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if err := l.db.Update(func(tx *bolt.Tx) error { return flipHash(tlog.StoredHashIndex(3, 0))(tx.Bucket([]byte(l.cfg.Bucket))) }); err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 1)
			tc.found(l)
			clock.advance(tc.wait)
			commits := 0
			l.cfg.Update = func(fn func(*bolt.Tx) error) error {
				commits++
				return l.db.Update(fn)
			}
			for range 5 {
				if h, err := l.RecentHead(ctx, 0); !errors.Is(err, ErrCorrupt) {
					t.Errorf("RecentHead %s after the head before the damage: size %d, %v; want %v", tc.wait, h.Size, err, ErrCorrupt)
				}
			}
			// At most the one that finds the damage: each poll of a
			// damaged log would otherwise cost a commit.
			if commits > 1 {
				t.Errorf("5 polls of a damaged log made %d commits; want at most 1", commits)
			}
			if n := storedHeads(t, l); n != 1 {
				t.Errorf("%d heads stored, want the one before the damage", n)
			}
		})
	}
}
