package store

import (
	"context"
	"slices"
	"testing"
)

// queueUpdates queues, in one call, updates of case key from province
// from to peer "44", each under the envelope id ids[i] names, its change
// appending it to the case as the exchange's does.
func queueUpdates(t *testing.T, s *Store, key, from string, ids ...string) {
	t.Helper()
	msgs := make([]Outgoing, len(ids))
	for i, id := range ids {
		msgs[i] = Outgoing{EnvelopeID: id, Ref: "11/referral_update/" + id, Type: "referral_update", Peer: "44", Envelope: []byte(`{"id":"` + id + `"}`),
			Case: &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
				c.Updates = append(c.Updates, CaseUpdate{EnvelopeID: id, From: from, Status: "step"})
				return c, nil
			}}}
	}
	enq, err := s.Enqueue(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range enq {
		if e.Duplicate || e.OverQuota || e.Refused != nil {
			t.Fatalf("update %s not queued: %+v", ids[i], e)
		}
	}
}

// pendingIDs is what Pending takes for peer "44", skipping skip, as ids,
// each with the update it waits for ("id<after").
func pendingIDs(t *testing.T, s *Store, skip ...string) []string {
	t.Helper()
	qs, err := s.Pending("44", 10, func(id string) bool { return slices.Contains(skip, id) })
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range qs {
		id := q.EnvelopeID
		if q.After != "" {
			id += "<" + q.After
		}
		out = append(out, id)
	}
	return out
}

// TestPendingKeepsACasesUpdatesInOrder: an update of a case is not taken
// ahead of the update of its case queued before it from this province
// while that one is queued: not while it is skipped (held, in flight),
// nor when its envelope id sorts after it, as two of one submission's
// may. Behind it in the same batch it goes. The other province's updates
// of the case, and records of other types, are not held up.
func TestPendingKeepsACasesUpdatesInOrder(t *testing.T) {
	s := openWith(t, Options{NoSync: true})
	key := CaseKey("11", "44", "RF-1")
	putCase(t, s, &Case{Key: key, Status: "referred", Updates: []CaseUpdate{{EnvelopeID: "01OTHER", From: "44", Status: "rejected"}}})
	// Queued in this order: accepted, then resolved under a smaller id.
	queueUpdates(t, s, key, "11", "01E2")
	queueUpdates(t, s, key, "11", "01E1")
	if _, err := s.Enqueue(context.Background(), []Outgoing{outgoing(0, "44")}); err != nil {
		t.Fatal(err)
	}
	if got, want := pendingIDs(t, s), []string{"01E2", "01ENV00000"}; !slices.Equal(got, want) {
		t.Errorf("Pending with the later update's id first: %v, want %v", got, want)
	}
	if got, want := pendingIDs(t, s, "01E2"), []string{"01ENV00000"}; !slices.Equal(got, want) {
		t.Errorf("Pending with the first update skipped: %v, want %v", got, want)
	}
	if err := s.MarkDelivered(context.Background(), "44", []Delivered{{EnvelopeID: "01E2"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := pendingIDs(t, s), []string{"01E1<01E2", "01ENV00000"}; !slices.Equal(got, want) {
		t.Errorf("Pending once the first update is delivered: %v, want %v", got, want)
	}

	// In id order, the second goes behind the first in one batch, a
	// third waits with the second when the first is skipped.
	other := CaseKey("11", "44", "RF-2")
	putCase(t, s, &Case{Key: other, Status: "referred"})
	queueUpdates(t, s, other, "11", "01F1", "01F2", "01F3")
	if got, want := pendingIDs(t, s, "01E1", "01ENV00000"), []string{"01F1", "01F2<01F1", "01F3<01F2"}; !slices.Equal(got, want) {
		t.Errorf("Pending of three updates in order: %v, want %v", got, want)
	}
	if got := pendingIDs(t, s, "01E1", "01ENV00000", "01F1"); len(got) != 0 {
		t.Errorf("Pending with the first of three updates skipped: %v, want none", got)
	}
	// Requeued from the dead letters, the first holds up the others again.
	if err := s.MarkDead(context.Background(), "44", []DeadLetter{{EnvelopeID: "01F1", Status: 400, Reason: "refused"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := pendingIDs(t, s, "01E1", "01ENV00000"), []string{"01F2<01F1", "01F3<01F2"}; !slices.Equal(got, want) {
		t.Errorf("Pending with the first update a dead letter: %v, want %v", got, want)
	}
	if _, err := s.Requeue(context.Background(), "44", DeadPick{EnvelopeID: "01F1"}); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, s, "01E1", "01ENV00000", "01F1"); len(got) != 0 {
		t.Errorf("Pending with the first update requeued and skipped: %v, want none", got)
	}
}
