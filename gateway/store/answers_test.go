package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// TestARecordKeepsAtMostMaxAnswers: the province a record went to may
// answer it again and again (a confirmation a month), but not without end:
// each answer rewrites the record's status whole. Past MaxAnswers an answer
// is refused by name; one the record holds already is still taken as the
// same answer again.
func TestARecordKeepsAtMostMaxAnswers(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []store.Outgoing{{EnvelopeID: "01ENV", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	answer := func(i int) store.Answer {
		return store.Answer{EnvelopeID: fmt.Sprintf("01C%06d", i), Type: "confirmation", ReceivedAt: time.Now(), Summary: []byte(`{"employed":true}`)}
	}
	for i := range store.MaxAnswers {
		if err := s.AddAnswer(ctx, "51/transfer/T-1", "44", answer(i)); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if err := s.AddAnswer(ctx, "51/transfer/T-1", "44", answer(store.MaxAnswers)); !errors.Is(err, store.ErrTooManyAnswers) {
		t.Fatalf("answer %d: %v; want ErrTooManyAnswers", store.MaxAnswers, err)
	}
	if err := s.AddAnswer(ctx, "51/transfer/T-1", "44", answer(3)); err != nil {
		t.Errorf("an answer the record holds, again: %v; want it taken", err)
	}
	st, err := s.Status("01ENV")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Answers) != store.MaxAnswers {
		t.Errorf("the record holds %d answers, want %d", len(st.Answers), store.MaxAnswers)
	}
}
