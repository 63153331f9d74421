package store

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEncodeIncomingMatchesJSON: the inbox's hand-assembled encoding reads
// back as the same Incoming that encoding/json would store, and so does what
// encoding/json stored; a record that is its envelope's payload is stored
// once, inside the envelope.
func TestEncodeIncomingMatchesJSON(t *testing.T) {
	payload := `{"schema":"laborlink.transfer/v1","id":"T-1","worker":{"name":"张三","id_number":"510***********1234"}}`
	envelope := `{"id":"01J0000000000000000000000A","payload":` + payload + `,"payload_digest":"sha256:00"}`
	at := func(seq uint64, env, rec string) Incoming {
		return Incoming{Seq: seq, EnvelopeID: "01J0000000000000000000000A", From: "51", Type: "transfer", ReceivedAt: time.Date(2026, 3, 15, 8, 0, 0, 123e6, time.UTC),
			Envelope: json.RawMessage(env), Record: json.RawMessage(rec), Receipt: json.RawMessage(`{"ok":true}`)}
	}
	tests := []struct {
		name string
		m    Incoming
		once bool // the record is stored inside the envelope only
	}{
		{"a record apart from its envelope", at(7, " {\"id\": \"x\",\n \"payload\": {\"a\": [1, 2]}} ", `{"a":"\u00e9\""}`), false},
		{"no documents", Incoming{Seq: 1, EnvelopeID: "id\"<>&", From: "44", Type: "confirmation"}, false},
		{"the payload as the record", at(2, envelope, payload), true},
		{"the payload as the record, blanks around the envelope", at(3, "\n "+envelope+" ", payload), true},
		{"a masked record", at(4, envelope, strings.Replace(payload, "张三", "张*", 1)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeIncoming(t, tt.m)
			want, err := json.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if once := bytes.Count(got, []byte(`"worker"`)) == 1; once != tt.once {
				t.Errorf("record stored once = %v, want %v: %s", once, tt.once, got)
			}
			var b Incoming
			if err := json.Unmarshal(want, &b); err != nil {
				t.Fatal(err)
			}
			for _, stored := range [][]byte{got, want} {
				a, err := decodeIncoming(stored)
				if err != nil {
					t.Fatalf("%s: %v", stored, err)
				}
				// Raw documents are kept as they came, blanks and all, where
				// encoding/json compacts them.
				if a, b := compacted(t, a), compacted(t, b); !reflect.DeepEqual(a, b) {
					t.Errorf("stored %s\nreads back as %+v\nwant %+v", stored, a, b)
				}
			}
		})
	}
}

// encodeIncoming encodes m as ReceiveAnd does: all but the seq first, then
// the seq.
func encodeIncoming(t *testing.T, m Incoming) []byte {
	t.Helper()
	values, errs := encodeIncomings([]Incoming{m}, m.ReceivedAt) // a zero time stays zero
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	return withSeq(values[0], m.Seq)
}

// TestEncodeIncomingIsJSONMarshal: with compact documents and a record of
// its own, the inbox's hand-written encoding is byte for byte json.Marshal's,
// strings that need escaping, times in other zones and the widest seq
// included, as are a pruned entry's time and a confirmation's worker match.
func TestEncodeIncomingIsJSONMarshal(t *testing.T) {
	tricky := []string{
		"", "01J0000000000000000000000A", `"quoted" \back\slash/`, "\x00\x01\x1f\x7f\b\f\n\r\t",
		"<script>&amp;</script>", "张三 ☃ 😀", "bad \xff utf-8 \xe2\x80 cut \xc3", "line\u2028para\u2029end",
	}
	zone := time.FixedZone("CST", 8*3600)
	times := []time.Time{
		time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 15, 8, 0, 0, 120000000, zone),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.FixedZone("", -(3*3600+30*60))),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	seqs := []uint64{0, 1, 10, 1<<64 - 1}
	for i, s := range tricky {
		m := Incoming{
			Seq: seqs[i%len(seqs)], EnvelopeID: s, From: tricky[(i+1)%len(tricky)], Type: tricky[(i+2)%len(tricky)],
			ReceivedAt: times[i%len(times)], Envelope: json.RawMessage(`{"payload":{"a":1}}`),
			Record: json.RawMessage(`{"b":[2,"x"]}`), Receipt: nil,
		}
		if i%2 == 1 {
			m.WorkerMatch = tricky[(i+3)%len(tricky)]
		}
		if i%4 >= 2 {
			m.PrunedAt = times[(i+1)%len(times)]
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeIncoming(t, m); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

// TestEncodeIncomingRefusesWhatJSONDoes: a time json.Marshal cannot write is
// an error here too, and ReceiveAnd stores nothing of its batch.
func TestEncodeIncomingRefusesWhatJSONDoes(t *testing.T) {
	m := Incoming{EnvelopeID: "x", ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(m); err == nil {
		t.Fatal("json.Marshal wrote a year past 9999")
	}
	if values, errs := encodeIncomings([]Incoming{m}, m.ReceivedAt); errs[0] == nil {
		t.Errorf("encoded as %s", withSeq(values[0], 1))
	}
	s, _ := openTest(t)
	ok := Incoming{EnvelopeID: "y", From: "51", Envelope: json.RawMessage(`{}`)}
	if got, err := s.Receive(context.Background(), []Incoming{ok, m}); err == nil {
		t.Errorf("received as %+v", got)
	}
	if head, err := s.InboxHead(); err != nil || head != 0 {
		t.Errorf("inbox head %d, %v after a refused batch", head, err)
	}
}

func compacted(t *testing.T, m Incoming) Incoming {
	t.Helper()
	for _, raw := range []*json.RawMessage{&m.Envelope, &m.Record, &m.Receipt} {
		if *raw == nil {
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, *raw); err != nil {
			t.Fatal(err)
		}
		*raw = b.Bytes()
	}
	return m
}

// TestDecodeIncomingRefusesRecordOutside: a record said to lie outside its
// envelope is an error, not a panic or a record made up.
func TestDecodeIncomingRefusesRecordOutside(t *testing.T) {
	for _, v := range []string{
		`{"seq":1,"envelope":{"a":1},"record_at":[0,99]}`,
		`{"seq":1,"envelope":{"a":1},"record_at":[5,2]}`,
		`{"seq":1,"envelope":{"a":1},"record_at":[-1,2]}`,
		`{"seq":1,"envelope":{"a":1},"record":{"b":2},"record_at":[0,7]}`,
	} {
		if m, err := decodeIncoming([]byte(v)); err == nil {
			t.Errorf("%s reads as %+v", v, m)
		}
	}
}
