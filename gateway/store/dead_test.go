package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDeadLettersLeaveTheQueueAndComeBack: a dead letter leaves its peer's
// queue with its record marked failed, is listed without its envelope,
// survives a reopen, and a requeue puts back exactly what was queued.
func TestDeadLettersLeaveTheQueueAndComeBack(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	bad := toSign(t, outgoing(2, "44"), []byte("0123456789abcdef0123456789abcdef"))
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44"), bad, outgoing(3, "44"), outgoing(4, "33")}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Pending("44", 10, nil)
	refuse := errors.New("refused")
	if err := s.MarkDeadAnd(ctx, "44", []DeadLetter{{EnvelopeID: bad.EnvelopeID, Status: 400, Reason: "bad batch"}}, func(*bolt.Tx) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("MarkDeadAnd refused by also: %v", err)
	}
	if err := s.MarkDead(ctx, "44", []DeadLetter{{EnvelopeID: outgoing(4, "33").EnvelopeID, Status: 400}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dead-lettering an envelope queued for another peer: %v, want ErrNotFound", err)
	}
	if d := s.DeadLetterCounts(); len(d) != 0 {
		t.Fatalf("refused calls left dead letters: %v", d)
	}

	if err := s.MarkDead(ctx, "44", []DeadLetter{{EnvelopeID: bad.EnvelopeID, Status: 400, Reason: "bad batch: envelopes[1]: invalid character"}}); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, when string, depth, dead map[string]int) {
		t.Helper()
		if got := s.Depth(); !maps.Equal(got, depth) {
			t.Errorf("%s: depth %v, want %v", when, got, depth)
		}
		if got := s.DeadLetterCounts(); !maps.Equal(got, dead) {
			t.Errorf("%s: dead letters %v, want %v", when, got, dead)
		}
		if got := s.counted(t, bucketDead); !maps.Equal(got, dead) {
			t.Errorf("%s: the dead letter bucket holds %v, counted %v", when, got, dead)
		}
	}
	check(s, "after MarkDead", map[string]int{"44": 2, "33": 1}, map[string]int{"44": 1})
	st, err := s.Status(bad.EnvelopeID)
	if err != nil || st.State != StateFailed || st.FailedAt.IsZero() || len(st.Reasons) != 1 || !strings.Contains(st.Reasons[0], "400 Bad Request: bad batch") {
		t.Errorf("status of the dead letter = %+v, %v", st, err)
	}
	if p, _ := s.Pending("44", 10, nil); len(p) != 2 {
		t.Errorf("pending for 44 = %d envelopes, want 2", len(p))
	}
	listed, err := s.DeadLetters("44")
	if err != nil || len(listed) != 1 || listed[0].EnvelopeID != bad.EnvelopeID || listed[0].Peer != "44" || listed[0].Status != 400 || listed[0].At.IsZero() {
		t.Fatalf("DeadLetters(44) = %+v, %v", listed, err)
	}
	if all, _ := s.DeadLetters(""); len(all) != 1 {
		t.Errorf("DeadLetters() = %+v, want the one", all)
	}
	if none, _ := s.DeadLetters("33"); len(none) != 0 {
		t.Errorf("DeadLetters(33) = %+v, want none", none)
	}

	s.Close()
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after reopening", map[string]int{"44": 2, "33": 1}, map[string]int{"44": 1})

	if _, err := s.Requeue(ctx, "44", DeadPick{EnvelopeID: "01NOSUCH"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue of an unknown envelope: %v, want ErrNotFound", err)
	}
	n, err := s.Requeue(ctx, "44", DeadPick{EnvelopeID: bad.EnvelopeID})
	if err != nil || n != 1 {
		t.Fatalf("requeue = %d, %v", n, err)
	}
	check(s, "after requeue", map[string]int{"44": 3, "33": 1}, map[string]int{})
	after, _ := s.Pending("44", 10, nil)
	if len(after) != len(before) || string(after[1].Envelope) != string(before[1].Envelope) || string(after[1].SigningDigest) != string(bad.SigningDigest) {
		t.Errorf("requeued outbox %+v, want %+v", after, before)
	}
	if st, _ := s.Status(bad.EnvelopeID); st.State != StateAccepted || len(st.Reasons) != 0 || !st.FailedAt.IsZero() {
		t.Errorf("status after requeue = %+v, want accepted", st)
	}
}

// TestRequeueAllForAPeer moves every dead letter of the peer and no other.
func TestRequeueAllForAPeer(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(3, "33")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(3, "33")} {
		if err := s.MarkDead(ctx, m.Peer, []DeadLetter{{EnvelopeID: m.EnvelopeID, Status: 413, Reason: "too large"}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := s.Depth(); len(d) != 0 {
		t.Fatalf("depth %v, want none", d)
	}
	n, err := s.Requeue(ctx, "44", DeadPick{Through: EveryBurial})
	if err != nil || n != 2 {
		t.Fatalf("requeue all for 44 = %d, %v", n, err)
	}
	if d, dead := s.Depth(), s.DeadLetterCounts(); !maps.Equal(d, map[string]int{"44": 2}) || !maps.Equal(dead, map[string]int{"33": 1}) {
		t.Errorf("depth %v and dead letters %v after requeueing 44", d, dead)
	}
	if n, err := s.Requeue(ctx, "44", DeadPick{Through: EveryBurial}); err != nil || n != 0 {
		t.Errorf("requeue of none = %d, %v", n, err)
	}
}

// counted counts a bucket keyed by peer as Open does.
func (s *Store) counted(t *testing.T, bucket []byte) map[string]int {
	t.Helper()
	var n map[string]int
	if err := s.db.View(func(tx *bolt.Tx) error { n = countQueues(tx, bucket); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRequeueAndTellsWhatGoesBack: RequeueAnd tells also which dead letters
// go back before it writes, in the same transaction, and an error from also
// leaves them dead, as they were.
func TestRequeueAndTellsWhatGoesBack(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ms := []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(3, "33")}
	if _, err := s.Enqueue(ctx, ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := s.MarkDead(ctx, m.Peer, []DeadLetter{{EnvelopeID: m.EnvelopeID, Status: 400, Reason: "bad batch"}}); err != nil {
			t.Fatal(err)
		}
	}
	refuse := errors.New("refused")
	if _, err := s.RequeueAnd(ctx, "44", DeadPick{Through: EveryBurial}, func(*bolt.Tx, []DeadLetter) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("RequeueAnd refused by also: %v", err)
	}
	if d, dead := s.Depth(), s.DeadLetterCounts(); len(d) != 0 || !maps.Equal(dead, map[string]int{"44": 2, "33": 1}) {
		t.Fatalf("a refused requeue moved envelopes: depth %v, dead letters %v", d, dead)
	}
	if st, _ := s.Status(ms[0].EnvelopeID); st.State != StateFailed {
		t.Errorf("a refused requeue cleared the failed state: %+v", st)
	}

	var told []string
	n, err := s.RequeueAnd(ctx, "44", DeadPick{Through: EveryBurial}, func(tx *bolt.Tx, ds []DeadLetter) error {
		for _, d := range ds {
			if d.Peer != "44" || d.Status != 400 || tx.Bucket(bucketOutbox).Get(outboxKey("44", d.EnvelopeID)) != nil {
				t.Errorf("told %+v, before it is back in the outbox", d)
			}
			told = append(told, d.EnvelopeID)
		}
		return nil
	})
	if err != nil || n != 2 || !slices.Equal(told, []string{ms[0].EnvelopeID, ms[1].EnvelopeID}) {
		t.Errorf("RequeueAnd = %d, %v; told %v, want the two of 44", n, err, told)
	}
	told = nil
	if n, err := s.RequeueAnd(ctx, "44", DeadPick{Through: EveryBurial}, func(_ *bolt.Tx, ds []DeadLetter) error { told = append(told, "call"); return nil }); err != nil || n != 0 || len(told) != 1 {
		t.Errorf("RequeueAnd of none = %d, %v, also called %d times, want once with none", n, err, len(told))
	}
}
