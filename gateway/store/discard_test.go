package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// deadFixture queues envelopes 1 and 2 for 44 and 3 for 33, each with a
// payload and a worker kept of its own, and buries them all as refused; it
// returns them.
func deadFixture(t *testing.T, s *Store) []Outgoing {
	t.Helper()
	ctx := context.Background()
	ms := []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(3, "33")}
	for i := range ms {
		ms[i].Envelope = fmt.Appendf(nil, `{"payload":"SECRET-PAYLOAD-%d"}`, i+1)
		ms[i].Worker = &SentWorker{Shown: "###", Digest: fmt.Appendf(nil, "SECRET-WORKER-%d", i+1)}
	}
	if _, err := s.Enqueue(ctx, ms); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := s.MarkDead(ctx, m.Peer, []DeadLetter{{EnvelopeID: m.EnvelopeID, Status: 422, Reason: "import refused"}}); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

// holds reports whether any value in the store's file, in any bucket,
// contains b as it is or in base64, as a dead letter's JSON holds the
// outbox value (an unsigned envelope's is the envelope itself).
func (s *Store) holds(t *testing.T, b []byte) bool {
	t.Helper()
	b64 := []byte(base64.StdEncoding.EncodeToString(b))
	found := false
	var walk func(*bolt.Bucket) error
	walk = func(bk *bolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(bk.Bucket(k))
			}
			found = found || bytes.Contains(v, b) || bytes.Contains(v, b64)
			return nil
		})
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { return walk(bk) })
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

// TestDiscardDropsADeadLetterForGood: a discarded dead letter is gone from
// the dead letters, the counts and the file, is not queued again, cannot
// be requeued, and its record says it was discarded, when, and the peer's
// refusal that made it a dead letter; the peer's other dead letters stay,
// also across a reopen.
func TestDiscardDropsADeadLetterForGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	clock := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := openAt(t, path, Options{Now: func() time.Time { return clock }})
	ctx := context.Background()
	ms := deadFixture(t, s)
	before, err := s.Status(ms[0].EnvelopeID)
	if err != nil || before.State != StateFailed || !before.DiscardedAt.IsZero() {
		t.Fatalf("status of the dead letter = %+v, %v", before, err)
	}

	clock = clock.Add(time.Hour)
	discardedAt := clock
	n, err := s.Discard(ctx, "44", DeadPick{EnvelopeID: ms[0].EnvelopeID})
	if err != nil || n != 1 {
		t.Fatalf("discard = %d, %v", n, err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		want := map[string]int{"44": 1, "33": 1}
		if got := s.DeadLetterCounts(); !maps.Equal(got, want) {
			t.Errorf("%s: dead letters %v, want %v", when, got, want)
		}
		if got := s.counted(t, bucketDead); !maps.Equal(got, want) {
			t.Errorf("%s: the dead letter bucket holds %v, want %v", when, got, want)
		}
		if d := s.Depth(); len(d) != 0 {
			t.Errorf("%s: depth %v; a discard queues nothing", when, d)
		}
		if p, _ := s.PendingFull("44", 10, nil); len(p) != 0 {
			t.Errorf("%s: pending for 44 = %+v, want none", when, p)
		}
		if listed, _ := s.DeadLetters("44"); len(listed) != 1 || listed[0].EnvelopeID != ms[1].EnvelopeID {
			t.Errorf("%s: DeadLetters(44) = %+v, want only %s", when, listed, ms[1].EnvelopeID)
		}
		if s.holds(t, ms[0].Envelope) {
			t.Errorf("%s: the discarded envelope %s is still in the store", when, ms[0].Envelope)
		}
		if s.holds(t, ms[0].Worker.Digest) {
			t.Errorf("%s: the worker digest kept of the discarded transfer is still in the store", when)
		}
		if !s.holds(t, ms[1].Worker.Digest) {
			t.Errorf("%s: the worker digest kept of a dead letter not discarded is gone", when)
		}
		if !s.holds(t, ms[1].Envelope) {
			t.Errorf("%s: the envelope of the dead letter left, %s, is gone", when, ms[1].Envelope)
		}
		st, err := s.Status(ms[0].EnvelopeID)
		if err != nil || st.State != StateDiscarded || !st.DiscardedAt.Equal(discardedAt) || !slices.Equal(st.Reasons, before.Reasons) || !st.FailedAt.Equal(before.FailedAt) ||
			!strings.Contains(st.Reasons[0], "422 Unprocessable Entity: import refused") {
			t.Errorf("%s: status of the discarded record = %+v, %v; want it discarded at %s, failed as before, %+v", when, st, err, discardedAt, before)
		}
		if states, err := s.States([]string{ms[0].EnvelopeID, ms[1].EnvelopeID}); err != nil || !slices.Equal(states, []State{StateDiscarded, StateFailed}) {
			t.Errorf("%s: States = %v, %v; want the discarded one discarded, the other failed", when, states, err)
		}
	}
	check(s, "after discard")

	s.Close()
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after reopening")

	if _, err := s.Requeue(ctx, "44", DeadPick{EnvelopeID: ms[0].EnvelopeID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue of a discarded dead letter: %v, want ErrNotFound", err)
	}
	if _, err := s.Discard(ctx, "44", DeadPick{EnvelopeID: ms[0].EnvelopeID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("discard of it again: %v, want ErrNotFound", err)
	}
	check(s, "after the refused requeue and discard")
}

// TestDiscardAllForAPeer drops every dead letter of the peer and no other,
// and discarding none is no error.
func TestDiscardAllForAPeer(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ms := deadFixture(t, s)
	n, err := s.Discard(ctx, "44", DeadPick{Through: EveryBurial})
	if err != nil || n != 2 {
		t.Fatalf("discard all for 44 = %d, %v", n, err)
	}
	if dead, d := s.DeadLetterCounts(), s.Depth(); !maps.Equal(dead, map[string]int{"33": 1}) || len(d) != 0 {
		t.Errorf("dead letters %v and depth %v after discarding 44's", dead, d)
	}
	if got := s.counted(t, bucketDead); !maps.Equal(got, map[string]int{"33": 1}) {
		t.Errorf("the dead letter bucket holds %v, want 33's alone", got)
	}
	for _, m := range ms[:2] {
		if st, _ := s.Status(m.EnvelopeID); st.State != StateDiscarded || st.DiscardedAt.IsZero() {
			t.Errorf("status of discarded %s = %+v, want discarded", m.EnvelopeID, st)
		}
	}
	if st, _ := s.Status(ms[2].EnvelopeID); st.State != StateFailed || !st.DiscardedAt.IsZero() {
		t.Errorf("status of 33's dead letter = %+v, want failed still", st)
	}
	if n, err := s.Discard(ctx, "44", DeadPick{Through: EveryBurial}); err != nil || n != 0 {
		t.Errorf("discard of none = %d, %v", n, err)
	}
}

// TestDiscardAndTellsWhatGoes: DiscardAnd tells also which dead letters go,
// in the transaction and before they are deleted, and an error from also,
// or an unknown envelope id, leaves every dead letter as it was.
func TestDiscardAndTellsWhatGoes(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ms := deadFixture(t, s)
	unchanged := func(when string) {
		t.Helper()
		if dead := s.DeadLetterCounts(); !maps.Equal(dead, map[string]int{"44": 2, "33": 1}) {
			t.Errorf("%s: dead letters %v, want all three", when, dead)
		}
		if listed, _ := s.DeadLetters(""); len(listed) != 3 {
			t.Errorf("%s: DeadLetters() = %+v, want all three", when, listed)
		}
	}
	refuse := errors.New("refused")
	if _, err := s.DiscardAnd(ctx, "44", DeadPick{Through: EveryBurial}, func(*bolt.Tx, []DeadLetter) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("DiscardAnd refused by also: %v", err)
	}
	unchanged("after a discard refused by also")
	called := false
	if _, err := s.DiscardAnd(ctx, "44", DeadPick{EnvelopeID: "01NOSUCH"}, func(*bolt.Tx, []DeadLetter) error { called = true; return nil }); !errors.Is(err, ErrNotFound) || called {
		t.Errorf("discard of an unknown envelope: %v, also called %v; want ErrNotFound before also", err, called)
	}
	unchanged("after a discard of an unknown envelope")

	var told []string
	n, err := s.DiscardAnd(ctx, "44", DeadPick{EnvelopeID: ms[1].EnvelopeID}, func(tx *bolt.Tx, ds []DeadLetter) error {
		for _, d := range ds {
			if d.Peer != "44" || d.Status != 422 || tx.Bucket(bucketDead).Get(outboxKey("44", d.EnvelopeID)) == nil {
				t.Errorf("told %+v, not as the dead letter still stored", d)
			}
			told = append(told, d.EnvelopeID)
		}
		return nil
	})
	if err != nil || n != 1 || !slices.Equal(told, []string{ms[1].EnvelopeID}) {
		t.Errorf("DiscardAnd = %d, %v; told %v, want %s alone", n, err, told, ms[1].EnvelopeID)
	}
}

// TestDiscardAllKeepsWhatWasBuriedAfter: a discard of all of a peer's dead
// letters through the burial position of a listing takes those the
// listing showed and keeps those buried after it, among them an envelope
// requeued and buried again, whose burial the listing did not show; a dead
// letter buried before burials were numbered goes with any pick of all.
func TestDiscardAllKeepsWhatWasBuriedAfter(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	ms := deadFixture(t, s)
	listed, err := s.DeadLetters("44")
	if err != nil || len(listed) != 2 || listed[0].Burial != 1 || listed[1].Burial != 2 {
		t.Fatalf("DeadLetters(44) = %+v, %v; want burials 1 and 2", listed, err)
	}
	through := listed[1].Burial

	// After the listing: ms[1] is requeued and refused again, and a new
	// envelope for 44 is buried, across a reopen, which keeps the count.
	if _, err := s.Requeue(ctx, "44", DeadPick{EnvelopeID: ms[1].EnvelopeID}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, path, Options{})
	late := outgoing(4, "44")
	if _, err := s.Enqueue(ctx, []Outgoing{late}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "44", []DeadLetter{{EnvelopeID: ms[1].EnvelopeID, Status: 422}, {EnvelopeID: late.EnvelopeID, Status: 422}}); err != nil {
		t.Fatal(err)
	}
	if now, _ := s.DeadLetters("44"); len(now) != 3 || now[1].Burial != 4 || now[2].Burial != 5 {
		t.Fatalf("DeadLetters(44) after the listing = %+v; want burials 4 and 5 after 33's 3", now)
	}

	n, err := s.Discard(ctx, "44", DeadPick{Through: through})
	if err != nil || n != 1 {
		t.Fatalf("discard all of 44 through %d = %d, %v; want the one listed and still as listed", through, n, err)
	}
	left, _ := s.DeadLetters("44")
	if len(left) != 2 || left[0].EnvelopeID != ms[1].EnvelopeID || left[1].EnvelopeID != late.EnvelopeID {
		t.Errorf("left for 44: %+v, want %s and %s, buried after the listing", left, ms[1].EnvelopeID, late.EnvelopeID)
	}
	if dead := s.DeadLetterCounts(); !maps.Equal(dead, map[string]int{"44": 2, "33": 1}) {
		t.Errorf("dead letters %v after the discard", dead)
	}
	for _, m := range []Outgoing{ms[1], late} {
		if st, _ := s.Status(m.EnvelopeID); st.State != StateFailed {
			t.Errorf("status of %s, buried after the listing = %+v, want failed", m.EnvelopeID, st)
		}
	}

	// One stored before burials were numbered has none: every listing
	// since showed it, so a pick of all takes it, whatever its bound.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketDead), "44/01ENVOLD", deadValue{DeadLetter: DeadLetter{EnvelopeID: "01ENVOLD", Peer: "44", Status: 422}})
	}); err != nil {
		t.Fatal(err)
	}
	var told []string
	if n, err := s.DiscardAnd(ctx, "44", DeadPick{}, func(_ *bolt.Tx, ds []DeadLetter) error {
		for _, d := range ds {
			told = append(told, d.EnvelopeID)
		}
		return nil
	}); err != nil || n != 1 || !slices.Equal(told, []string{"01ENVOLD"}) {
		t.Errorf("discard through 0 = %d, %v, told %v; want the unnumbered one alone", n, err, told)
	}
}

// TestADiscardGoesOnPastAStatusThatDoesNotDecode: dropping the worker
// digest of a discarded transfer reads its status amid the discard's
// writes; a status that does not decode must not fail the discard there,
// after some dead letters were written off and their audit entries
// written. (From the review of the session's change.)
func TestADiscardGoesOnPastAStatusThatDoesNotDecode(t *testing.T) {
	s := openWith(t, Options{})
	ms := deadFixture(t, s)
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Put([]byte(ms[1].EnvelopeID), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Discard(context.Background(), "44", DeadPick{Through: EveryBurial})
	if err != nil || n != 2 {
		t.Fatalf("discard of both of 44's dead letters = %d, %v; want 2", n, err)
	}
	if s.holds(t, ms[0].Worker.Digest) || s.holds(t, ms[0].Envelope) || s.holds(t, ms[1].Envelope) {
		t.Error("a discarded envelope or the worker digest of a discarded transfer is still in the store")
	}
}
