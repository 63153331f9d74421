package store

import (
	"encoding/json"
	"testing"
	"time"
)

// checkStatusJSON fails t unless appendJSON writes what json.Marshal writes
// for st, or fails where it fails, appending nothing then. It reports
// whether they failed.
func checkStatusJSON(t testing.TB, st Status) (failed bool) {
	t.Helper()
	want, wantErr := json.Marshal(st)
	const prefix = "prefix"
	got, err := st.appendJSON([]byte(prefix))
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("%+v: appendJSON error %v, json.Marshal error %v", st, err, wantErr)
	case err != nil:
		if string(got) != prefix {
			t.Fatalf("%+v: appendJSON failed with %q appended", st, got[len(prefix):])
		}
		return true
	case string(got[len(prefix):]) != string(want):
		t.Fatalf("%+v:\nappendJSON   %s\njson.Marshal %s", st, got[len(prefix):], want)
	}
	return false
}

func TestStatusJSON(t *testing.T) {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	accepted := Status{EnvelopeID: "01ENV00001", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", State: StateAccepted, AcceptedAt: at}
	with := func(f func(st *Status)) Status {
		st := accepted
		f(&st)
		return st
	}
	tests := []struct {
		name    string
		st      Status
		wantErr bool
	}{
		{name: "empty", st: Status{}},
		{name: "accepted", st: accepted},
		{name: "all fields", st: Status{
			EnvelopeID: "01ENV00002", Ref: "51/transfer/T-2", Type: "transfer", Peer: "44", State: StateFailed,
			Reasons:     []string{"too late", "no <contract> & no consent"},
			AcceptedAt:  at,
			DeliveredAt: at.Add(time.Second),
			Receipt:     json.RawMessage(" {\"status\" : \"ok\",\n\t\"note\": \"<a>&\u2028\", \"n\": [1, 2.5e3, null]} "),
			FailedAt:    at.Add(time.Hour),
			DiscardedAt: at.Add(2 * time.Hour),
			Answers: []Answer{
				{EnvelopeID: "01ANS1", Type: "employment", ReceivedAt: at, Summary: json.RawMessage(`{ "employed": true }`)},
				{EnvelopeID: "01ANS2", Type: "employment", ReceivedAt: at.In(time.FixedZone("", 3600))},
				{EnvelopeID: "01ANS3", Type: "confirmation", ReceivedAt: at, Summary: json.RawMessage(`{}`), Refused: "worker_mismatch"},
			},
		}},
		{name: "empty slices and raw", st: with(func(st *Status) {
			st.Reasons, st.Receipt, st.Answers = []string{}, json.RawMessage{}, []Answer{}
		})},
		{name: "empty reason", st: with(func(st *Status) { st.Reasons = []string{""} })},
		{name: "escapes", st: with(func(st *Status) {
			st.Ref = "\"quoted\" \\ back <script>&amp;</script>"
			st.Type = "\b\f\n\r\t\x00\x01\x1f\x7f"
			st.Peer = "\u2028\u2029 é 😀 \ufffd"
			st.Reasons = []string{"<>&", "line\nbreak"}
		})},
		{name: "invalid UTF-8", st: with(func(st *Status) {
			st.EnvelopeID = "\xff\xfe"
			st.Ref = "a\xc3"
			st.Type = "\xed\xa0\x80" // a surrogate half
			st.Peer = "\xe2\x80"     // U+2028 cut short
			st.State = State("\xc0\xaf")
			st.Reasons = []string{"ok", "\x80"}
		})},
		{name: "zero times", st: with(func(st *Status) { st.AcceptedAt = time.Time{} })},
		{name: "whole seconds", st: with(func(st *Status) { st.AcceptedAt = at.Truncate(time.Second) })},
		{name: "milliseconds", st: with(func(st *Status) { st.AcceptedAt = at.Truncate(time.Millisecond) })},
		{name: "local time with monotonic reading", st: with(func(st *Status) { st.AcceptedAt = time.Now() })},
		{name: "zones", st: with(func(st *Status) {
			st.AcceptedAt = at.In(time.FixedZone("IST", 5*3600+30*60))
			st.DeliveredAt = at.In(time.FixedZone("", -8*3600))
			st.FailedAt = at.In(time.FixedZone("LMT", -(4*3600 + 56*60 + 2))) // seconds in the offset
		})},
		{name: "zone just under a day", st: with(func(st *Status) { st.AcceptedAt = at.In(time.FixedZone("", 23*3600+59*60)) })},
		{name: "year 0", st: with(func(st *Status) { st.AcceptedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{name: "year 9999", st: with(func(st *Status) { st.AcceptedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC) })},
		{name: "year 10000", st: with(func(st *Status) { st.AcceptedAt = year10000 }), wantErr: true},
		{name: "year -1", st: with(func(st *Status) { st.AcceptedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }), wantErr: true},
		{name: "zone a day ahead", st: with(func(st *Status) { st.AcceptedAt = at.In(time.FixedZone("", 24*3600)) }), wantErr: true},
		{name: "delivered in year 10000", st: with(func(st *Status) { st.DeliveredAt = year10000 }), wantErr: true},
		{name: "failed in year 10000", st: with(func(st *Status) { st.FailedAt = year10000 }), wantErr: true},
		{name: "answer in year 10000", st: with(func(st *Status) {
			st.Answers = []Answer{{EnvelopeID: "01ANS1", ReceivedAt: year10000}}
		}), wantErr: true},
		{name: "receipt not JSON", st: with(func(st *Status) { st.Receipt = json.RawMessage(`{"status":`) }), wantErr: true},
		{name: "summary not JSON", st: with(func(st *Status) {
			st.Answers = []Answer{{EnvelopeID: "01ANS1", ReceivedAt: at, Summary: json.RawMessage(`nope`)}}
		}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if failed := checkStatusJSON(t, tt.st); failed != tt.wantErr {
				t.Fatalf("failed %v, want %v", failed, tt.wantErr)
			}
		})
	}
}

// FuzzStatusJSON: appendJSON writes what json.Marshal writes for any
// strings, times and raw documents, and fails where it fails. Bits of set
// choose which of the optional members are set.
func FuzzStatusJSON(f *testing.F) {
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	f.Add("01ENV00001", "51/transfer/T-1", "transfer", "accepted", at.Unix(), int64(at.Nanosecond()), int32(0), []byte(nil), []byte(nil), uint8(0))
	f.Add("<\xff>", "\u2028&\"", "\n\x00", "", int64(253402300800), int64(0), int32(3600), []byte(` {"a" : "<b>"} `), []byte(`[1, 2]`), uint8(0xff))
	f.Add("", "", "", "", int64(-62135596801), int64(-1), int32(-86400), []byte(`{`), []byte(`"x"`), uint8(0x0f))
	f.Fuzz(func(t *testing.T, id, ref, text, state string, sec, nsec int64, offset int32, receipt, summary []byte, set uint8) {
		when := time.Unix(sec, nsec).In(time.FixedZone("", int(offset)))
		st := Status{EnvelopeID: id, Ref: ref, Type: text, Peer: state, State: State(state), AcceptedAt: when}
		if set&1 != 0 {
			st.Reasons = []string{text, ref}
		}
		if set&2 != 0 {
			st.DeliveredAt = when.Add(time.Duration(nsec))
		}
		if set&4 != 0 {
			st.Receipt = receipt
		}
		if set&8 != 0 {
			st.FailedAt = time.Unix(nsec, sec).In(time.FixedZone("", -int(offset)))
		}
		if set&16 != 0 {
			st.Answers = []Answer{{EnvelopeID: ref, Type: text, ReceivedAt: when, Summary: summary}}
			if set&128 != 0 {
				st.Answers[0].Refused = state
			}
		}
		if set&32 != 0 {
			st.AcceptedAt = time.Time{}
		}
		if set&64 != 0 {
			st.DiscardedAt = when.Add(-time.Duration(nsec))
		}
		checkStatusJSON(t, st)
	})
}

// BenchmarkStatusJSON encodes a status as Enqueue does for each record it
// accepts: with json.Marshal, and with appendJSON into a reused buffer.
func BenchmarkStatusJSON(b *testing.B) {
	m := outgoing(1, "44")
	st := Status{EnvelopeID: m.EnvelopeID, Ref: m.Ref, Type: m.Type, Peer: m.Peer, State: StateAccepted, AcceptedAt: time.Now().UTC()}
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = st.appendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
