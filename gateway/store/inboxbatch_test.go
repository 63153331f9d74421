package store

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestReceiveBatchAroundUnwritable: the values of a batch are encoded
// together; one that cannot be encoded but is a duplicate, and so is not
// written, leaves the others whole, each stored as it came.
func TestReceiveBatchAroundUnwritable(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
	payload := `{"schema":"laborlink.transfer/v1","id":"T-1","worker":{"name":"张三","id_number":"510***********1234"}}`
	incoming := func(id string, when time.Time) Incoming {
		env := `{"id":"` + id + `","payload":` + payload + `}`
		return Incoming{EnvelopeID: id, From: "51", Type: "transfer", ReceivedAt: when, Envelope: json.RawMessage(env),
			Record: json.RawMessage(payload), Receipt: json.RawMessage(`{"envelope_id":"` + id + `"}`)}
	}
	if _, err := s.Receive(ctx, []Incoming{incoming("D", at)}); err != nil {
		t.Fatal(err)
	}
	batch := []Incoming{incoming("A", at), incoming("D", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), incoming("B", at.Add(time.Second))}
	got, err := s.Receive(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Duplicate || !got[1].Duplicate || got[2].Duplicate || got[1].Seq != 1 {
		t.Fatalf("received as %+v", got)
	}
	for k, i := range []int{0, 2} {
		want := batch[i]
		want.Seq = uint64(2 + k)
		m, err := s.InboxItem(want.EnvelopeID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("%s reads back as\n%+v\nwant\n%+v", want.EnvelopeID, m, want)
		}
	}
}
