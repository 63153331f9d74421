package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
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
		stored, firsts, err := s.Received("51", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i := range want {
			if wantStored := ids[i] != missing; stored[i] != wantStored || string(firsts[i].Receipt) != want[i] {
				t.Errorf("%s: %s stored %v with receipt %s, want %v with %q", when, ids[i], stored[i], firsts[i].Receipt, wantStored, want[i])
			}
		}
		stored, firsts, err = s.Received("44", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i := range ids {
			if stored[i] {
				t.Errorf("%s: %s from 44 stored; 44 sent nothing", when, ids[i])
			}
		}
		if firsts != nil {
			t.Errorf("%s: arrivals %+v of envelopes none of which is stored, want nil", when, firsts)
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

// TestStoredReceiptReadsEveryForm: storedArrival takes the receipt member
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
			a, err := storedArrival([]byte(tt.v))
			got := a.Receipt
			if (err != nil) != tt.bad || string(got) != tt.want {
				t.Errorf("storedArrival(%s) = %s, %v; want %s, error %v", tt.v, got, err, tt.want, tt.bad)
			}
			if tt.want == "" && got != nil {
				t.Errorf("storedArrival(%s) = %q, want nil", tt.v, got)
			}
		})
	}
}

// TestStoredArrivalKeepsTheTimeExactly: storedArrival reads an item's
// received_at to the nanosecond, wherever it is; one that does not read is
// zero, the item's receipt read all the same.
func TestStoredArrivalKeepsTheTimeExactly(t *testing.T) {
	at := time.Date(2026, 4, 1, 8, 0, 0, 123456789, time.UTC)
	for v, want := range map[string]time.Time{
		`{"seq":1,"received_at":"2026-04-01T08:00:00.123456789Z","receipt":{}}`:      at,
		`{"receipt":{},"seq":1,"received_at":"2026-04-01T16:00:00.123456789+08:00"}`: at,
		`{"seq":1,"received_at":"yesterday","receipt":{}}`:                           {},
		`{"seq":1,"received_at":null,"receipt":{}}`:                                  {},
		`{"seq":1,"receipt":{}}`:                                                     {},
	} {
		a, err := storedArrival([]byte(v))
		if err != nil || !a.ReceivedAt.Equal(want) || string(a.Receipt) != "{}" {
			t.Errorf("storedArrival(%s) = %v, %s, %v; want %v, {}", v, a.ReceivedAt, a.Receipt, err, want)
		}
	}
}

// TestADuplicateIsDatedByItsFirstArrivalExactly: the first arrival of an
// envelope stored is given to the nanosecond, as its item keeps it, not
// to the millisecond its receipt says: by Received, as by ReceiveAnd for
// a duplicate of an envelope stored before, or earlier in the batch, and
// after retention pruned the item; for one stored without a time, the
// time the commit stored it with.
func TestADuplicateIsDatedByItsFirstArrivalExactly(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 4, 2, 9, 0, 0, 987654321, time.UTC)
	s := openWith(t, Options{NoSync: true, Now: func() time.Time { return clock }})
	at := time.Date(2026, 4, 1, 8, 0, 0, 123456789, time.UTC)
	incoming := func(id string, at time.Time) Incoming {
		return Incoming{EnvelopeID: id, From: "44", Type: "confirmation", ReceivedAt: at, Envelope: json.RawMessage(`{}`), Record: json.RawMessage(`{}`),
			Receipt: json.RawMessage(`{"envelope_id":"` + id + `","received_at":"` + at.Truncate(time.Millisecond).Format(time.RFC3339Nano) + `"}`)}
	}
	got, err := s.Receive(ctx, []Incoming{incoming("01C1", at), incoming("01C2", time.Time{}), incoming("01C1", at.Add(time.Hour)), incoming("01C2", at)})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]time.Time{2: at, 3: clock} {
		if !got[i].Duplicate || !got[i].ReceivedAt.Equal(want) {
			t.Errorf("copy %d in the batch: duplicate %v, first received %v; want %v", i, got[i].Duplicate, got[i].ReceivedAt, want)
		}
	}
	check := func(when string) {
		t.Helper()
		again, err := s.Receive(ctx, []Incoming{incoming("01C1", at.Add(time.Hour))})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !again[0].Duplicate || !again[0].ReceivedAt.Equal(at) {
			t.Errorf("%s: redelivery: duplicate %v, first received %v; want a duplicate first received %v", when, again[0].Duplicate, again[0].ReceivedAt, at)
		}
		stored, firsts, err := s.Received("44", []string{"01C1", "01C2"})
		if err != nil || !stored[0] || !stored[1] {
			t.Fatalf("%s: Received = %v, %v; want both stored", when, stored, err)
		}
		for i, want := range []time.Time{at, clock} {
			if !firsts[i].ReceivedAt.Equal(want) {
				t.Errorf("%s: envelope %d first received %v, want %v", when, i, firsts[i].ReceivedAt, want)
			}
		}
	}
	check("received")
	if n, err := s.PruneInbox(ctx, clock.Add(time.Hour), 1<<63); err != nil || n != 2 {
		t.Fatalf("PruneInbox = %d, %v; want both pruned", n, err)
	}
	check("pruned")
}

// TestDuplicatesGiveTheStoredEnvelope: what tells a redelivery sealed
// again from another envelope under its id and payload is the envelope
// stored, so Received gives it with each envelope found stored, whichever
// way its entry was written, and ReceiveAnd with each duplicate, of an
// envelope stored before or earlier in the batch; once retention pruned
// the entry, neither has one to give.
func TestDuplicatesGiveTheStoredEnvelope(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	received(t, s, 3)
	items, err := s.Inbox(0, 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("Inbox = %d items, %v; want 3", len(items), err)
	}
	rewriteAsJSON(t, s, items[2])
	ids := []string{items[0].EnvelopeID, items[1].EnvelopeID, items[2].EnvelopeID}
	const fresh = "01J00000000000000000000999"
	again := func(id string) Incoming {
		return Incoming{EnvelopeID: id, From: "51", Type: "transfer", Envelope: json.RawMessage(`{"id":"` + id + `","again":true}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{}`)}
	}
	check := func(when string, pruned bool) {
		t.Helper()
		_, firsts, err := s.Received("51", ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		got, err := s.Receive(ctx, []Incoming{again(ids[0]), again(fresh), again(fresh)})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for i, id := range ids {
			want := string(items[i].Envelope)
			if pruned {
				want = ""
			}
			if string(firsts[i].Envelope) != want {
				t.Errorf("%s: Received gives %s with envelope %s, want %q", when, id, firsts[i].Envelope, want)
			}
			if i == 0 && (!got[0].Duplicate || string(got[0].Envelope) != want) {
				t.Errorf("%s: a redelivery of %s: duplicate %v with envelope %s, want %q", when, id, got[0].Duplicate, got[0].Envelope, want)
			}
		}
		// The first copy of fresh in the batch is stored, the second is its
		// duplicate; once stored, both are duplicates of it.
		wantFresh := string(again(fresh).Envelope)
		if pruned {
			wantFresh = ""
		}
		if !got[2].Duplicate || string(got[2].Envelope) != wantFresh {
			t.Errorf("%s: the second copy of %s: duplicate %v with envelope %s, want %s", when, fresh, got[2].Duplicate, got[2].Envelope, wantFresh)
		}
	}
	check("as received", false)
	if n, err := s.PruneInbox(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 1<<63); err != nil || n != 4 {
		t.Fatalf("PruneInbox = %d, %v; want all 4 pruned", n, err)
	}
	check("after pruning", true)

	for v, want := range map[string]string{
		`{"seq":1,"envelope":null,"receipt":{}}`:          "",
		`{"seq":1,"receipt":{}}`:                          "",
		`{"receipt":{},"envelope" : {"id":"x"} ,"seq":1}`: `{"id":"x"}`,
	} {
		if a, err := storedArrival([]byte(v)); err != nil || string(a.Envelope) != want || (want == "" && a.Envelope != nil) {
			t.Errorf("storedArrival(%s) gives envelope %q, %v; want %q", v, a.Envelope, err, want)
		}
	}
}

// TestInboxItemFromKeysByOrigin: two provinces sent envelopes under one id
// (ids are each origin's own); InboxItem gives the first stored, and the
// exchange read a confirmation sent again through it, so another
// province's envelope stood in for the origin's. InboxItemFrom gives each
// origin's own. (From a review.)
func TestInboxItemFromKeysByOrigin(t *testing.T) {
	s, _ := openTest(t)
	const id = "01J00000000000000000000777"
	item := func(from string) Incoming {
		return Incoming{EnvelopeID: id, From: from, Type: "confirmation", Envelope: json.RawMessage(`{"id":"` + id + `","from":"` + from + `"}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{}`)}
	}
	for _, from := range []string{"33", "44"} {
		if _, err := s.Receive(context.Background(), []Incoming{item(from)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range []string{"33", "44"} {
		got, err := s.InboxItemFrom(from, id)
		if err != nil || got.From != from || string(got.Envelope) != string(item(from).Envelope) {
			t.Errorf("InboxItemFrom(%s, %s) = from %s, envelope %s, %v; want %s's own", from, id, got.From, got.Envelope, err, from)
		}
	}
	if _, err := s.InboxItemFrom("51", id); !errors.Is(err, ErrNotFound) {
		t.Errorf("InboxItemFrom of an origin that sent nothing under the id: %v, want ErrNotFound", err)
	}
}
