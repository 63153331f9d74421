package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestReceivedGivesStoredReceipts: Received finds each envelope stored
// from an origin with the receipt stored with it, whether the entry was
// written as appendIncomingButSeq writes it (its record inside its
// envelope) or as encoding/json did before (its record apart, a receipt of
// null among them), and still once retention pruned them; an id not
// stored, or stored from another origin, is not found and has no receipt.
func TestReceivedGivesStoredReceipts(t *testing.T) {
	s, _ := openTest(t)
	received(t, s, 4)
	items, err := s.Inbox(0, 10)
	if err != nil || len(items) != 4 {
		t.Fatalf("Inbox = %d items, %v; want 4", len(items), err)
	}
	items[3].Receipt = nil
	rewriteAsJSON(t, s, items[2:]...)
	const missing = "01J00000000000000000000999"
	ids := []string{items[0].EnvelopeID, missing, items[1].EnvelopeID, items[2].EnvelopeID, items[3].EnvelopeID}
	want := []string{string(items[0].Receipt), "", string(items[1].Receipt), string(items[2].Receipt), "null"}
	check := func(when string) {
		t.Helper()
		stored, receipts, err := s.Received("51", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i := range want {
			if wantStored := ids[i] != missing; stored[i] != wantStored || string(receipts[i]) != want[i] {
				t.Errorf("%s: %s stored %v with receipt %s, want %v with %q", when, ids[i], stored[i], receipts[i], wantStored, want[i])
			}
		}
		stored, receipts, err = s.Received("44", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i := range ids {
			if stored[i] {
				t.Errorf("%s: %s from 44 stored; 44 sent nothing", when, ids[i])
			}
		}
		if receipts != nil {
			t.Errorf("%s: receipts %q of envelopes none of which is stored, want nil", when, receipts)
		}
	}
	check("as received")
	if n, err := s.PruneInbox(context.Background(), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 1<<63); err != nil || n != 4 {
		t.Fatalf("PruneInbox = %d, %v; want all 4 pruned", n, err)
	}
	check("after pruning")
}

// rewriteAsJSON writes the inbox entries of ms again as encoding/json
// wrote them in releases before appendIncomingButSeq: every member of
// Incoming in its order, the record apart from its envelope.
func rewriteAsJSON(t *testing.T, s *Store, ms ...Incoming) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, m := range ms {
			v, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketInbox).Put(binary.BigEndian.AppendUint64(nil, m.Seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoredReceiptReadsEveryForm: storedReceipt takes the receipt member
// wherever it is and whatever surrounds it, as encoding/json would read
// it, and refuses what encoding/json refuses.
func TestStoredReceiptReadsEveryForm(t *testing.T) {
	tests := []struct {
		name, v, want string
		bad           bool
	}{
		{"last", `{"seq":1,"envelope":{"receipt":{"x":1}},"record":"\"receipt\":","receipt":{"ok":true}}`, `{"ok":true}`, false},
		{"before pruned_at", `{"seq":1,"envelope":null,"record":null,"receipt":{"ok":[1,"}"]},"pruned_at":"2026-04-01T00:00:00Z"}`, `{"ok":[1,"}"]}`, false},
		{"first, with blanks", " {\"receipt\" : {\"ok\" : true} ,\n\"seq\":1} ", `{"ok" : true}`, false},
		{"null", `{"seq":1,"receipt":null}`, `null`, false},
		{"none", `{"seq":1}`, ``, false},
		{"cut short", `{"seq":1,"receipt":{"ok":true}`, ``, true},
		{"not an object", `[{"receipt":{}}]`, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := storedReceipt([]byte(tt.v))
			if (err != nil) != tt.bad || string(got) != tt.want {
				t.Errorf("storedReceipt(%s) = %s, %v; want %s, error %v", tt.v, got, err, tt.want, tt.bad)
			}
			if tt.want == "" && got != nil {
				t.Errorf("storedReceipt(%s) = %q, want nil", tt.v, got)
			}
		})
	}
}
