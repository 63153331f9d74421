package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/laborlink/laborlink/gateway/procstat"
)

// oldQueued is queued as it was, a copy of the digest and another of the
// envelope, after the update it waits for: the reference FuzzQueued holds
// it to.
func oldQueued(id string, v []byte) Queued {
	var after string
	if len(v) > 1 && v[0] == afterMark {
		if n, w := binary.Uvarint(v[1:]); w > 0 && n > 0 && n <= uint64(len(v)-1-w) {
			after, v = string(v[1+w:1+w+int(n)]), v[1+w+int(n):]
		}
	}
	if len(v) > 2 && v[0] == digestMark && len(v) >= 2+int(v[1]) {
		n := int(v[1])
		return Queued{EnvelopeID: id, SigningDigest: clone(v[2 : 2+n]), Envelope: clone(v[2+n:]), After: after}
	}
	return Queued{EnvelopeID: id, Envelope: clone(v), After: after}
}

// FuzzQueued: queued reads any outbox value, copied out as Pending copies
// it, as it did with two copies, and keeps the digest and the envelope
// apart.
func FuzzQueued(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(`{"id":"x"}`))
	f.Add(append([]byte{digestMark, 32}, append(bytes.Repeat([]byte{7}, 32), `{"id":"x"}`...)...))
	f.Add(append([]byte{digestMark, 32}, bytes.Repeat([]byte{7}, 32)...))
	f.Add([]byte{digestMark, 0, '{', '}'})
	f.Add([]byte{digestMark, 0, 0})
	f.Add([]byte{digestMark, 5, 1})
	f.Add(withAfter("01A", []byte(`{"id":"x"}`)))
	f.Add(withAfter("01A", append([]byte{digestMark, 2, 7, 7}, `{"id":"x"}`...)))
	f.Add([]byte{afterMark, 9, 'a'})
	f.Add([]byte{afterMark, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, v []byte) {
		want := oldQueued("01X", v)
		got := queued("01X", clone(v))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, before %+v", v, got, want)
		}
		env := append([]byte(nil), got.Envelope...)
		_ = append(got.SigningDigest, bytes.Repeat([]byte{1}, len(env)+1)...)
		if !bytes.Equal(got.Envelope, env) {
			t.Fatalf("%q: appending to the digest wrote into the envelope", v)
		}
	})
}

// BenchmarkPending reads a delivery batch of 100 envelopes of ~2 KB queued
// to be signed with their batch, as a delivery worker does for each batch.
func BenchmarkPending(b *testing.B) {
	s := openWith(b, Options{})
	var os []Outgoing
	for i := range 100 {
		o := outgoing(i, "44")
		o.Envelope = []byte(fmt.Sprintf(`{"id":%q,"pad":%q}`, o.EnvelopeID, bytes.Repeat([]byte("a"), 2000)))
		os = append(os, toSign(b, o, bytes.Repeat([]byte{byte(i)}, 32)))
	}
	if _, err := s.Enqueue(context.Background(), os); err != nil {
		b.Fatal(err)
	}
	skip := func(string) bool { return false }
	b.ReportAllocs()
	for b.Loop() {
		if q, err := s.Pending("44", 100, skip); err != nil || len(q) != 100 {
			b.Fatal(len(q), err)
		}
	}
}

// TestPendingCopiesApart: the envelopes of a batch, copied out into one
// buffer, each hold their own bytes: appending to one envelope or digest
// writes into none of the others.
func TestPendingCopiesApart(t *testing.T) {
	s := openWith(t, Options{NoSync: true})
	var os []Outgoing
	for i := range 6 {
		o := outgoing(i, "44")
		if i%2 == 0 {
			o = toSign(t, o, bytes.Repeat([]byte{byte(i + 1)}, 32))
		}
		os = append(os, o)
	}
	if _, err := s.Enqueue(context.Background(), os); err != nil {
		t.Fatal(err)
	}
	q, err := s.Pending("44", 10, nil)
	if err != nil || len(q) != len(os) {
		t.Fatalf("%d pending, %v", len(q), err)
	}
	for i := range q {
		_ = append(q[i].Envelope, bytes.Repeat([]byte{'x'}, 64)...)
		_ = append(q[i].SigningDigest, bytes.Repeat([]byte{'y'}, 64)...)
	}
	for i, o := range os {
		if q[i].EnvelopeID != o.EnvelopeID || !bytes.Equal(q[i].Envelope, o.Envelope) || !bytes.Equal(q[i].SigningDigest, o.SigningDigest) {
			t.Errorf("%d: %s %q %x, want %s %q %x", i, q[i].EnvelopeID, q[i].Envelope, q[i].SigningDigest, o.EnvelopeID, o.Envelope, o.SigningDigest)
		}
	}
}

// BenchmarkPendingInFlight takes a full batch of 100 envelopes of ~2 KB
// past 400 in flight, as a delivery worker keeping batches in flight does.
func BenchmarkPendingInFlight(b *testing.B) {
	s := openWith(b, Options{NoSync: true})
	var os []Outgoing
	inflight := map[string]bool{}
	for i := range 500 {
		o := outgoing(i, "44")
		o.Envelope = []byte(fmt.Sprintf(`{"id":%q,"pad":%q}`, o.EnvelopeID, bytes.Repeat([]byte("a"), 2000)))
		os = append(os, toSign(b, o, bytes.Repeat([]byte{byte(i)}, 32)))
		inflight[o.EnvelopeID] = i < 400
	}
	if _, err := s.Enqueue(context.Background(), os); err != nil {
		b.Fatal(err)
	}
	skip := func(id string) bool { return inflight[id] }
	b.ReportAllocs()
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		if q, err := s.PendingFull("44", 100, skip); err != nil || len(q) != 100 {
			b.Fatal(len(q), err)
		}
	}
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
