package store

import (
	"context"
	"maps"
	"testing"
	"time"
)

// TestFirstDeferralSurvivesReopen: when a peer first deferred an envelope
// is kept in the file, and a later deferral, after a restart too, reads it
// back rather than start again; an envelope no longer queued gets no
// entry.
func TestFirstDeferralSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	a, b := outgoing(1, "44"), outgoing(2, "44")
	if _, err := s.Enqueue(ctx, []Outgoing{a, b}); err != nil {
		t.Fatal(err)
	}
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if since, err := s.MarkDeferred(ctx, "44", []string{a.EnvelopeID}, first); err != nil || len(since) != 1 || !since[0].Equal(first) {
		t.Fatalf("first deferral: %v, %v; want %s", since, err, first)
	}
	s.Close()

	s = openAt(t, path, Options{})
	later := first.Add(5 * time.Hour)
	since, err := s.MarkDeferred(ctx, "44", []string{a.EnvelopeID, b.EnvelopeID, "01ENOTQUEUED"}, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(since) != 3 || !since[0].Equal(first) || !since[1].Equal(later) || !since[2].IsZero() {
		t.Errorf("deferrals after a reopen: %v; want %s (kept), %s (new) and zero (not queued)", since, first, later)
	}
	if got := s.counted(t, bucketDeferred); !maps.Equal(got, map[string]int{"44": 2}) {
		t.Errorf("deferral entries %v, want 2 for 44", got)
	}
}

// TestAnEnvelopeLeavingTheQueueTakesItsDeferral: delivered, rejected or
// buried, an envelope takes the record of its first deferral with it, so
// that nothing is left behind and a requeued dead letter deferred again
// starts its bound anew.
func TestAnEnvelopeLeavingTheQueueTakesItsDeferral(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ms := []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(3, "44"), outgoing(4, "33")}
	if _, err := s.Enqueue(ctx, ms); err != nil {
		t.Fatal(err)
	}
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.MarkDeferred(ctx, "44", []string{ms[0].EnvelopeID, ms[1].EnvelopeID, ms[2].EnvelopeID}, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkDeferred(ctx, "33", []string{ms[3].EnvelopeID}, first); err != nil {
		t.Fatal(err)
	}

	if err := s.MarkDelivered(ctx, "44", []Delivered{{EnvelopeID: ms[0].EnvelopeID, Receipt: []byte(`"r"`)}, {EnvelopeID: ms[1].EnvelopeID, Rejected: true, Reasons: []string{"policy_denied"}}}); err != nil {
		t.Fatal(err)
	}
	if got := s.counted(t, bucketDeferred); !maps.Equal(got, map[string]int{"44": 1, "33": 1}) {
		t.Errorf("after a deferral and then a receipt and a rejection, deferral entries %v; want only the envelopes still queued", got)
	}

	if err := s.MarkDead(ctx, "44", []DeadLetter{{EnvelopeID: ms[2].EnvelopeID, Status: StatusDeferredTooLong, Reason: "deferred too long"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.counted(t, bucketDeferred); !maps.Equal(got, map[string]int{"33": 1}) {
		t.Errorf("after a burial, deferral entries %v; want only 33's", got)
	}
	if _, err := s.Requeue(ctx, "44", DeadPick{EnvelopeID: ms[2].EnvelopeID}); err != nil {
		t.Fatal(err)
	}
	again := first.Add(100 * time.Hour)
	if since, err := s.MarkDeferred(ctx, "44", []string{ms[2].EnvelopeID}, again); err != nil || !since[0].Equal(again) {
		t.Errorf("a requeued envelope deferred again was first deferred at %v (%v); want %s", since, err, again)
	}
}

// TestDeadLetterWhyOfADeferralTooLong: a dead letter the peer kept
// deferring says so, not that the peer refused it.
func TestDeadLetterWhyOfADeferralTooLong(t *testing.T) {
	d := DeadLetter{Peer: "51", Status: StatusDeferredTooLong, Reason: "deferred for 73h0m0s; the last deferral: case_unknown"}
	if got, want := d.Why(), "province 51 kept deferring the envelope, never taking nor refusing it: deferred for 73h0m0s; the last deferral: case_unknown"; got != want {
		t.Errorf("Why() = %q, want %q", got, want)
	}
}
