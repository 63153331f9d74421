package store

import (
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Buckets whose keys arrive in order are packed: at bbolt's default split
// (half a page) they would hold half as much per page written.
func TestAppendedBucketsArePacked(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const n, batch = 3000, 100
	for i := 0; i < n; i += batch {
		out, in := make([]Outgoing, batch), make([]Incoming, batch)
		ds := make([]Delivered, batch)
		for j := range batch {
			out[j] = outgoing(i+j, "44")
			out[j].Envelope = make([]byte, 1500)
			ds[j] = Delivered{EnvelopeID: out[j].EnvelopeID, Receipt: []byte(fmt.Sprintf(`{"envelope_id":%q}`, out[j].EnvelopeID))}
			in[j] = Incoming{EnvelopeID: fmt.Sprintf("01IN%06d", i+j), From: "44", Type: "transfer", Envelope: []byte(`{"id":1}`), Record: []byte(`{"r":1}`), Receipt: []byte(`{}`)}
		}
		if _, err := s.Enqueue(ctx, out); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Receive(ctx, in); err != nil {
			t.Fatal(err)
		}
		// Half the batch delivered at once, so the outbox keeps entries.
		if err := s.MarkDelivered(ctx, "44", ds[:batch/2]); err != nil {
			t.Fatal(err)
		}
	}
	s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketRecords, bucketDelivered, bucketOutbox, bucketInbox, bucketReceived} {
			st := tx.Bucket(name).Stats()
			if st.LeafPageN < 2 {
				t.Fatalf("bucket %s: %d leaf pages; the test needs splits", name, st.LeafPageN)
			}
			if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.8 {
				t.Errorf("bucket %s: leaf pages %.0f%% full (%d pages), want at least 80%%", name, 100*fill, st.LeafPageN)
			}
		}
		return nil
	})
}
