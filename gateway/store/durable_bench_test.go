package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkReceived measures the destination's duplicate check on a batch
// of 100 envelope ids, half of them stored, their receipts read: a read
// transaction and little else, so that what every read adds to it shows.
func BenchmarkReceived(b *testing.B) {
	s := openWith(b, Options{NoSync: true})
	const batch = 100
	var in []Incoming
	ids := make([]string, batch)
	for i := range ids {
		ids[i] = fmt.Sprintf("01J%023d", i)
		if i%2 == 0 {
			in = append(in, Incoming{EnvelopeID: ids[i], From: "51", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)})
		}
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Received("51", ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatus measures reading one record's status, as a submitter
// polling it does.
func BenchmarkStatus(b *testing.B) {
	s := openWith(b, Options{NoSync: true})
	if _, err := s.Enqueue(context.Background(), []Outgoing{{EnvelopeID: "01J", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Status("01J"); err != nil {
			b.Fatal(err)
		}
	}
}
