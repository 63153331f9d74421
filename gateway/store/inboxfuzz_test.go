package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzInboxItem holds the inbox's hand-written reader and writers to
// encoding/json. storedArrival reads any bytes as encoding/json reads the
// members it takes (checkStoredArrival). An Incoming of any strings, times,
// documents and header digest, written as ReceiveAnd writes it
// (appendIncomingButSeq, withSeq, and withWorkerMatch for an answer), is
// refused where json.Marshal refuses it, is json.Marshal's bytes where its
// documents are compact, and reads back as encoding/json would read what
// json.Marshal wrote, by decodeIncoming and by storedArrival; and so does
// the value PruneInbox writes in its place, its header digest kept.
func FuzzInboxItem(f *testing.F) {
	at := time.Date(2026, 3, 15, 8, 0, 0, 123456789, time.UTC)
	digest := bytes.Repeat([]byte{0xd1}, 32)
	payload := `{"schema":"laborlink.transfer/v1","id":"T-1","worker":{"name":"张三","id_number":"510***********1234"}}`
	envelope := `{"id":"01J0000000000000000000000A","payload":` + payload + `,"payload_digest":"sha256:00"}`
	receipt := `{"envelope_id":"01J0000000000000000000000A","status":"stored","received_at":"2026-03-15T08:00:00.123Z"}`
	for _, raw := range []string{
		`{"seq":1,"envelope":{"id":"x"},"receipt":{},"header_digest":"AQID"}`,
		`{"header_digest":"AQID","envelope":{"id":"x"},"receipt":{}}`,
		`{"seq":1,"envelope":{"id":"x"},"header_digest":null}`,
		`{"seq":1,"header_digest":"!!"}`,
		`{"seq":1,"header_digest":{"a":1}}`,
		`{"seq":1,"header_digest":[1,2,255]}`,
		`{"seq":1,"header_digest":""}`,
		`{"seq":1,"header_digest":"AQ\nID"}`,
		`{"seq":1,"h\u0065ader_digest":"AQID","rec\u0065ipt":{"a":1}}`,
		`{"seq":1,"Receipt":{"a":1},"HEADER_DIGEST":"AQID"}`,
		`{"seq":1,"receipt":{"a":1},"receipt":null}`,
		`{"seq":1,"envelope":null,"record":null,"receipt":{"ok":[1,"}"]},"pruned_at":"2026-04-01T00:00:00Z"}`,
		" {\"receipt\" : {\"ok\" : true} ,\n\"seq\":1} ",
		`{"seq":1,"received_at":"2026-04-01T16:00:00.123456789+08:00","receipt":{}}`,
		`{"seq":1,"received_at":"yesterday","receipt":{}}`,
		`{"seq":1,"received_at":null,"receipt":{}}`,
		`{"seq":1,"receipt":{"ok":true}`,
		`[{"receipt":{}}]`, `null`, `"x"`, ``, `{}`,
		`{"seq":1,"envelope":"\ud800\xff","receipt":"<&>"}`,
	} {
		f.Add([]byte(raw), uint64(1), "01J0000000000000000000000A", "51", "transfer", "", at.Unix(), int64(at.Nanosecond()), int32(0),
			[]byte(envelope), []byte(payload), []byte(receipt), digest, uint8(0))
	}
	tricky := []string{`"quoted" \back\slash/`, "\x00\x1f\x7f<script>&amp;", "bad \xff utf-8 \xe2\x80 cut", "line\u2028para\u2029end 张三 😀"}
	for i, flags := range []uint8{1, 2, 4, 8, 1 | 4 | 8, 2 | 4, 0xff} {
		s := tricky[i%len(tricky)]
		f.Add([]byte(nil), uint64(1)<<(7*i), s, tricky[(i+1)%len(tricky)], tricky[(i+2)%len(tricky)], tricky[(i+3)%len(tricky)],
			int64(-62135596800+i*100000000000), int64(i*7), int32((i-3)*3600+i*60),
			[]byte(" {\"id\": \"x\",\n \"payload\": {\"a\": [1, 2]}} "), []byte(payload), []byte(`{"a":"\u00e9\""}`), digest[:i*5], flags)
	}
	f.Add([]byte(nil), uint64(0), "", "", "", "", int64(253402300800), int64(0), int32(0), []byte(nil), []byte(nil), []byte(nil), []byte(nil), uint8(0))
	f.Add([]byte(nil), uint64(1<<64-1), "x", "y", "z", "w", int64(0), int64(-1), int32(100*3600), []byte(`null`), []byte(`not json`), []byte("  "), []byte{0}, uint8(8))
	f.Fuzz(func(t *testing.T, raw []byte, seq uint64, id, from, typ, match string, sec, nsec int64, offset int32,
		envelope, record, receipt, digest []byte, flags uint8) {
		checkStoredArrival(t, raw)

		m := Incoming{Seq: seq, EnvelopeID: id, From: from, Type: typ, WorkerMatch: match,
			ReceivedAt: time.Unix(sec, nsec).In(time.FixedZone("", int(offset))),
			Envelope:   asDocument(envelope), Record: asDocument(record), Receipt: asDocument(receipt)}
		// The exchange stores a digest of 32 bytes or none; an empty one is
		// none, as appendIncomingButSeq writes it.
		if len(digest) > 0 {
			m.HeaderDigest = digest
		}
		if flags&4 != 0 && m.Envelope != nil && m.Record != nil {
			// The record as the envelope's payload, which is stored once
			// when it is long enough (recordIn).
			m.Envelope = json.RawMessage(`{"payload":` + string(m.Record) + `,"rest":` + string(m.Envelope) + `}`)
		}
		if flags&2 != 0 {
			// As PruneInbox writes it: without its documents.
			m.Envelope, m.Record, m.PrunedAt = nil, nil, time.Unix(nsec, sec%1e9).UTC()
		}
		answered := flags&1 != 0 && match != ""
		if answered {
			m.WorkerMatch = "" // the link's, as encodeIncomings writes it for an answer
		}
		values, errs := encodeIncomings([]Incoming{m}, m.ReceivedAt)
		marshalled, merr := json.Marshal(m)
		if (errs[0] == nil) != (merr == nil) {
			t.Fatalf("%+v: encoded with error %v, json.Marshal with %v", m, errs[0], merr)
		}
		if merr != nil {
			return
		}
		v := values[0]
		if answered {
			v = withWorkerMatch(v, match)
			m.WorkerMatch = match
			if marshalled, merr = json.Marshal(m); merr != nil {
				t.Fatal(merr)
			}
		}
		v = withSeq(v, m.Seq)
		if !json.Valid(v) {
			t.Fatalf("%+v: encoded as %q, not JSON", m, v)
		}
		if compactDocuments(m) && m.HeaderDigest == nil && !bytes.Contains(v, []byte(`"record_at":`)) && !bytes.Equal(v, marshalled) {
			t.Fatalf("%+v:\nencoded as %s\njson.Marshal %s", m, v, marshalled)
		}
		checkInboxValue(t, v, m)

		// PruneInbox writes the entry again without its documents.
		got, err := decodeIncoming(v)
		if err != nil {
			t.Fatal(err)
		}
		if !got.PrunedAt.IsZero() {
			return
		}
		got.Envelope, got.Record, got.PrunedAt = nil, nil, time.Unix(sec%1e9, 0).UTC()
		b, err := appendIncomingButSeq(nil, &got, recordAt{})
		if err != nil {
			t.Fatalf("pruning %s: %v", v, err)
		}
		m.Envelope, m.Record, m.PrunedAt = nil, nil, got.PrunedAt
		checkInboxValue(t, withSeq(b, got.Seq), m)
	})
}

// checkInboxValue checks that v, m as written to the inbox, reads back by
// decodeIncoming as encoding/json would read what json.Marshal writes for
// m, but for the documents, kept as they are, and the header digest; and
// by storedArrival as encoding/json reads it (checkStoredArrival).
func checkInboxValue(t *testing.T, v []byte, m Incoming) {
	t.Helper()
	got, err := decodeIncoming(v)
	if err != nil {
		t.Fatalf("%s does not read back: %v", v, err)
	}
	var want Incoming
	bare := m
	bare.Envelope, bare.Record, bare.Receipt = nil, nil, nil
	if err := json.Unmarshal(marshal(t, bare), &want); err != nil {
		t.Fatal(err)
	}
	want.Envelope, want.Record, want.Receipt, want.HeaderDigest = storedDocument(m.Envelope), storedDocument(m.Record), storedDocument(m.Receipt), m.HeaderDigest
	if !m.PrunedAt.IsZero() {
		want.Envelope, want.Record = nil, nil
	}
	if !sameIncoming(t, got, want) {
		t.Fatalf("%s\nreads back as %+v\nwant %+v", v, got, want)
	}
	a := checkStoredArrival(t, v)
	wantEnvelope := want.Envelope
	if m.HeaderDigest != nil || string(wantEnvelope) == "null" {
		wantEnvelope = nil
	}
	if !sameTime(a.ReceivedAt, want.ReceivedAt) || !bytes.Equal(a.Receipt, want.Receipt) || !bytes.Equal(a.HeaderDigest, m.HeaderDigest) ||
		(a.HeaderDigest == nil) != (m.HeaderDigest == nil) || !sameDocument(t, a.Envelope, wantEnvelope) {
		t.Fatalf("%s: storedArrival gives %+v; want time %v, receipt %s, header digest %x, envelope %s",
			v, a, want.ReceivedAt, want.Receipt, m.HeaderDigest, wantEnvelope)
	}
}

// arrivalRead is an inbox value's members that storedArrival takes, as
// encoding/json reads them.
type arrivalRead struct {
	ReceivedAt   lenientTime     `json:"received_at"`
	Receipt      json.RawMessage `json:"receipt"`
	Envelope     json.RawMessage `json:"envelope"`
	HeaderDigest []byte          `json:"header_digest"`
}

// lenientTime is a time.Time that is zero where it does not read, as
// storedArrival reads received_at: the receipt's time stands for it then.
type lenientTime struct{ time.Time }

func (l *lenientTime) UnmarshalJSON(b []byte) error {
	if err := l.Time.UnmarshalJSON(b); err != nil {
		l.Time = time.Time{}
	}
	return nil
}

// checkStoredArrival checks that storedArrival reads v as encoding/json
// reads the members it takes into an arrivalRead, the envelope given only
// without a header digest, but that it refuses a repeated member name
// (contracts.RawObject does) and a document that is not an object, null
// included, which encoding/json reads as nothing. Member names that only
// encoding/json's case folding matches are not the writers', and not
// read. It returns what storedArrival read.
func checkStoredArrival(t *testing.T, v []byte) Arrival {
	t.Helper()
	got, err := storedArrival(bytes.Clone(v))
	var want arrivalRead
	werr := json.Unmarshal(v, &want)
	if werr != nil || !isObject(v) {
		if err == nil {
			t.Fatalf("%q: storedArrival reads %+v, encoding/json refuses it: %v", v, got, werr)
		}
		return got
	}
	if foldedName(v) {
		return got
	}
	if err != nil {
		if strings.Contains(err.Error(), "duplicate member") {
			return got
		}
		t.Fatalf("%q: storedArrival refuses it (%v); encoding/json reads %+v", v, err, want)
	}
	wantEnvelope := keptEnvelope(want.Envelope)
	if want.HeaderDigest != nil {
		wantEnvelope = nil
	}
	if !sameTime(got.ReceivedAt, want.ReceivedAt.Time) || !bytes.Equal(got.Receipt, want.Receipt) || (got.Receipt == nil) != (want.Receipt == nil) ||
		!bytes.Equal(got.HeaderDigest, want.HeaderDigest) || (got.HeaderDigest == nil) != (want.HeaderDigest == nil) ||
		!bytes.Equal(got.Envelope, wantEnvelope) || (got.Envelope == nil) != (wantEnvelope == nil) {
		t.Fatalf("%q: storedArrival reads %+v; encoding/json %+v, envelope given %q", v, got, want, wantEnvelope)
	}
	return got
}

// isObject says whether the JSON document v is an object.
func isObject(v []byte) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

// foldedName says whether the object v has a member that encoding/json
// takes for one storedArrival reads only by folding its name's case.
func foldedName(v []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(v, &members) != nil {
		return false
	}
	for name := range members {
		for _, read := range []string{"received_at", "receipt", "envelope", "header_digest"} {
			if name != read && strings.EqualFold(name, read) {
				return true
			}
		}
	}
	return false
}

// asDocument is b if it is a JSON document, else b as a JSON string, so
// that the writers are given what they may be: well-formed documents, or
// none.
func asDocument(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// storedDocument is the document encoding/json reads for raw as the writers
// write it: its blanks around it dropped, null for none.
func storedDocument(raw json.RawMessage) json.RawMessage {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// compactDocuments says whether m's documents are as json.Marshal writes
// them: compact, and with nothing it escapes.
func compactDocuments(m Incoming) bool {
	for _, raw := range []json.RawMessage{m.Envelope, m.Record, m.Receipt} {
		if raw == nil {
			continue
		}
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil || !bytes.Equal(b.Bytes(), raw) || bytes.ContainsAny(raw, "<>&\u2028\u2029") {
			return false
		}
	}
	return true
}

// sameIncoming compares two Incomings, their times as instants in the
// same offset and their documents compacted.
func sameIncoming(t *testing.T, a, b Incoming) bool {
	t.Helper()
	if !sameTime(a.ReceivedAt, b.ReceivedAt) || !sameTime(a.PrunedAt, b.PrunedAt) || !bytes.Equal(a.HeaderDigest, b.HeaderDigest) ||
		!sameDocument(t, a.Envelope, b.Envelope) || !sameDocument(t, a.Record, b.Record) || !sameDocument(t, a.Receipt, b.Receipt) {
		return false
	}
	a.ReceivedAt, a.PrunedAt, a.HeaderDigest, a.Envelope, a.Record, a.Receipt = time.Time{}, time.Time{}, nil, nil, nil, nil
	b.ReceivedAt, b.PrunedAt, b.HeaderDigest, b.Envelope, b.Record, b.Receipt = time.Time{}, time.Time{}, nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// sameDocument compares two documents compacted, nil apart from any.
func sameDocument(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	var ca, cb bytes.Buffer
	if err := json.Compact(&ca, a); err != nil {
		t.Fatalf("document %q: %v", a, err)
	}
	if err := json.Compact(&cb, b); err != nil {
		t.Fatalf("document %q: %v", b, err)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// sameTime says whether a and b are the same instant in the same offset.
func sameTime(a, b time.Time) bool {
	_, ao := a.Zone()
	_, bo := b.Zone()
	return a.Equal(b) && ao == bo
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
