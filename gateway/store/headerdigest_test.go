package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAHeaderDigestOutlivesPruning: the header digest an envelope is
// received with is what tells a redelivery from another envelope under
// its id, so it is stored with the item and kept when retention prunes
// it, and given with each duplicate, by Received and by ReceiveAnd, of an
// envelope stored before or earlier in the batch, in place of the
// envelope, which is not copied out for it. (From a review: once pruned,
// an item told nothing of its envelope's headers.) An item stored without
// one, as by an earlier release, gives the envelope while it keeps it, and
// nothing once pruned. The local API's item, which the webhook pushes
// too, does not show it, and a release before it reads the item as it
// did.
func TestAHeaderDigestOutlivesPruning(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	const withDigest, without = "01J00000000000000000000001", "01J00000000000000000000002"
	digest := bytes.Repeat([]byte{0xd1}, 32)
	incoming := func(id string, header []byte) Incoming {
		return Incoming{EnvelopeID: id, From: "51", Type: "transfer", Envelope: json.RawMessage(`{"id":"` + id + `","payload":{"a":1}}`),
			Record: json.RawMessage(`{"a":1}`), Receipt: json.RawMessage(`{}`), HeaderDigest: header}
	}
	got, err := s.Receive(ctx, []Incoming{incoming(withDigest, digest), incoming(without, nil), incoming(withDigest, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !got[2].Duplicate || !bytes.Equal(got[2].HeaderDigest, digest) || got[2].Envelope != nil {
		t.Errorf("a copy later in the batch: duplicate %v, header digest %x, envelope %s; want a duplicate with the first's digest and no envelope", got[2].Duplicate, got[2].HeaderDigest, got[2].Envelope)
	}
	check := func(when string, pruned bool) {
		t.Helper()
		_, firsts, err := s.Received("51", []string{withDigest, without})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		again, err := s.Receive(ctx, []Incoming{incoming(withDigest, nil), incoming(without, nil)})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, a := range []Arrival{firsts[0], again[0].Arrival} {
			if !bytes.Equal(a.HeaderDigest, digest) || a.Envelope != nil {
				t.Errorf("%s: %s gives header digest %x and envelope %s; want %x and no envelope", when, withDigest, a.HeaderDigest, a.Envelope, digest)
			}
		}
		wantEnvelope := string(incoming(without, nil).Envelope)
		if pruned {
			wantEnvelope = ""
		}
		for _, a := range []Arrival{firsts[1], again[1].Arrival} {
			if a.HeaderDigest != nil || string(a.Envelope) != wantEnvelope {
				t.Errorf("%s: %s, stored without a header digest, gives %x and envelope %s; want none and %q", when, without, a.HeaderDigest, a.Envelope, wantEnvelope)
			}
		}
		item, err := s.InboxItem(withDigest)
		if err != nil || !bytes.Equal(item.HeaderDigest, digest) {
			t.Errorf("%s: InboxItem gives header digest %x, %v; want %x", when, item.HeaderDigest, err, digest)
		}
		shown, err := json.Marshal(item)
		if err != nil || bytes.Contains(shown, []byte("header_digest")) {
			t.Errorf("%s: the item as the API shows it: %s, %v; want no header digest", when, shown, err)
		}
		var earlier struct {
			Incoming
			RecordAt *[2]int `json:"record_at,omitempty"`
		}
		if err := json.Unmarshal(rawInboxValue(t, s, item.Seq), &earlier); err != nil || earlier.EnvelopeID != withDigest || earlier.PrunedAt.IsZero() != !pruned {
			t.Errorf("%s: the item as an earlier release reads it: %+v, %v", when, earlier.Incoming, err)
		}
	}
	check("as received", false)
	if n, err := s.PruneInbox(ctx, time.Now().Add(time.Hour), 1<<63); err != nil || n != 2 {
		t.Fatalf("PruneInbox = %d, %v; want both pruned", n, err)
	}
	check("after pruning", true)
}

// rawInboxValue is the inbox value stored at seq.
func rawInboxValue(t *testing.T, s *Store, seq uint64) []byte {
	t.Helper()
	var v []byte
	err := s.view(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketInbox).Get(binary.BigEndian.AppendUint64(nil, seq)))
		return nil
	})
	if err != nil || v == nil {
		t.Fatalf("inbox value %d: %s, %v", seq, v, err)
	}
	return v
}

// TestStoredArrivalReadsTheHeaderDigest: storedArrival reads the header
// digest as encoding/json reads a []byte, wherever it is, and refuses one
// that does not read, as it refuses an entry that does not.
func TestStoredArrivalReadsTheHeaderDigest(t *testing.T) {
	tests := []struct {
		name, v string
		want    []byte
		bad     bool
	}{
		{"after the envelope", `{"seq":1,"envelope":{"id":"x"},"receipt":{},"header_digest":"AQID"}`, []byte{1, 2, 3}, false},
		{"before the envelope", `{"header_digest":"AQID","envelope":{"id":"x"},"receipt":{}}`, []byte{1, 2, 3}, false},
		{"null", `{"seq":1,"envelope":{"id":"x"},"header_digest":null}`, nil, false},
		{"not base64", `{"seq":1,"header_digest":"!!"}`, nil, true},
		{"an object", `{"seq":1,"header_digest":{"a":1}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := storedArrival([]byte(tt.v))
			if (err != nil) != tt.bad || !bytes.Equal(a.HeaderDigest, tt.want) {
				t.Errorf("storedArrival(%s) = %x, %v; want %x, error %v", tt.v, a.HeaderDigest, err, tt.want, tt.bad)
			}
			if !tt.bad && (a.HeaderDigest == nil) != (a.Envelope != nil) {
				t.Errorf("storedArrival(%s) gives envelope %s with header digest %x; want the one or the other", tt.v, a.Envelope, a.HeaderDigest)
			}
		})
	}
}
