package store

import (
	"context"
	"testing"
	"time"
)

// TestReceivedReceiptsOutliveRetention: ReceivedReceipts gives the receipt
// stored with each envelope from an origin, before and after retention
// pruned the entry, and none for an id not stored or stored from another
// origin.
func TestReceivedReceiptsOutliveRetention(t *testing.T) {
	s, _ := openTest(t)
	received(t, s, 2)
	items, err := s.Inbox(0, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("Inbox = %d items, %v; want 2", len(items), err)
	}
	ids := []string{items[0].EnvelopeID, "01J00000000000000000000999", items[1].EnvelopeID}
	check := func(when string) {
		t.Helper()
		got, err := s.ReceivedReceipts("51", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		want := []string{string(items[0].Receipt), "", string(items[1].Receipt)}
		for i := range want {
			if string(got[i]) != want[i] {
				t.Errorf("%s: receipt of %s = %s, want %q", when, ids[i], got[i], want[i])
			}
		}
		other, err := s.ReceivedReceipts("44", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i, r := range other {
			if r != nil {
				t.Errorf("%s: receipt of %s from 44 = %s, want none: 44 sent nothing", when, ids[i], r)
			}
		}
	}
	check("before pruning")
	if n, err := s.PruneInbox(context.Background(), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 1<<63); err != nil || n != 2 {
		t.Fatalf("PruneInbox = %d, %v; want both pruned", n, err)
	}
	check("after pruning")
}
