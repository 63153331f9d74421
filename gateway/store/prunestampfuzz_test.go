package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzPruneStamp holds storedReceivedAt, the reader inbox pruning ages
// entries by, to decodeIncoming, the reader the inbox is paged with: for
// any value decodeIncoming reads, storedReceivedAt reads the same time of
// arrival or refuses it, and refuses it only where pruning must stop rather
// than guess (no received_at member, or one named twice, which
// contracts.RawObject refuses). A time read wrong would prune an entry
// before its retention, or keep it past it. Names that only encoding/json's
// case folding matches are not the writers', and not read.
func FuzzPruneStamp(f *testing.F) {
	at := time.Date(2026, 3, 15, 8, 0, 0, 123456789, time.FixedZone("", 8*3600))
	for _, m := range []Incoming{
		{EnvelopeID: "01J0000000000000000000000A", From: "51", Type: "transfer", ReceivedAt: at,
			Envelope: json.RawMessage(`{"id":"01J0000000000000000000000A","received_at":"2030-01-01T00:00:00Z"}`),
			Receipt:  json.RawMessage(`{"received_at":"2031-01-01T00:00:00Z"}`)},
		{EnvelopeID: "01J0000000000000000000000B", ReceivedAt: time.Unix(0, 0).UTC(), PrunedAt: at},
		{ReceivedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	} {
		b, err := appendIncomingButSeq(nil, &m, recordAt{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(withSeq(b, 7))
	}
	for _, raw := range []string{
		`{"seq":1,"received_at":"2026-04-01T16:00:00.123456789+08:00"}`,
		`{"envelope":{"received_at":"2030-01-01T00:00:00Z"},"received_at":"2020-01-01T00:00:00Z"}`,
		`{"received_at":"2020-01-01T00:00:00Z","receipt":{"received_at":"2030-01-01T00:00:00Z"}}`,
		`{"rec\u0065ived_at":"2020-01-01T00:00:00Z"}`,
		`{"Received_At":"2020-01-01T00:00:00Z"}`,
		`{"received_at":"2020-01-01T00:00:00Z","received_at":"2021-01-01T00:00:00Z"}`,
		`{"received_at":null}`,
		`{"received_at":"yesterday"}`,
		`{"received_at":20200101}`,
		`{"seq":1}`,
		" {\"received_at\" :\n\"2020-01-01T00:00:00Z\" } ",
		`{"received_at":"2020-01-01T00:00:00Z"`,
		`{"received_at":"2020-01-01T00:00:00Z","record_at":[5,1]}`,
		`[{"received_at":"2020-01-01T00:00:00Z"}]`, `null`, `{}`, ``,
	} {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := storedReceivedAt(bytes.Clone(v))
		want, werr := decodeIncoming(v)
		if werr != nil || !isObject(v) || foldedName(v) {
			return // not read by decodeIncoming, or not as the writers write it
		}
		if err != nil {
			if strings.Contains(err.Error(), "duplicate member") || !hasMember(v, "received_at") {
				return
			}
			t.Fatalf("%q: storedReceivedAt refuses it (%v); decodeIncoming reads %v", v, err, want.ReceivedAt)
		}
		if !sameTime(got, want.ReceivedAt) {
			t.Fatalf("%q: storedReceivedAt reads %v; decodeIncoming %v", v, got, want.ReceivedAt)
		}
	})
}

// hasMember says whether the JSON object v has a member named name
// exactly, as encoding/json reads its name.
func hasMember(v []byte, name string) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(v, &members) != nil {
		return false
	}
	_, ok := members[name]
	return ok
}
