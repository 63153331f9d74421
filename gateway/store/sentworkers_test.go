package store

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
)

// TestSentWorkerIsKeptWithItsTransfer: the worker Enqueue is given with a
// transfer is read back by the transfer's reference, encoded as
// json.Marshal would; a record enqueued without one, or a reference not
// known, has none.
func TestSentWorkerIsKeptWithItsTransfer(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "node.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := SentWorker{IDNumber: "510***********123X", ContractStart: "2026-03-01"}
	msgs := []Outgoing{
		{EnvelopeID: "01ENV1", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w},
		{EnvelopeID: "01ENV2", Ref: "51/referral/R-1", Type: "referral", Peer: "44", Envelope: []byte(`{}`)},
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	got, err := s.SentWorker("51/transfer/T-1")
	if err != nil || got != w {
		t.Errorf("SentWorker of the transfer: %+v, %v; want %+v", got, err, w)
	}
	for _, ref := range []string{"51/referral/R-1", "51/transfer/T-2"} {
		if _, err := s.SentWorker(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("SentWorker(%q): %v; want ErrNotFound", ref, err)
		}
	}
	for _, w := range []SentWorker{{}, w, {IDNumber: "\"<\\>&\u2028\xff", ContractStart: "\n"}} {
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON %s, json.Marshal %s", got, want)
		}
	}
}
