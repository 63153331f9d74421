package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/procstat"
)

// TestEncodeDeliveries holds the answers of a batch, written into one
// buffer with one head for all that were not rejected, to what
// json.Marshal writes for each delivery, and each answer to its own room.
func TestEncodeDeliveries(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 123456789, time.UTC)
	ds := []Delivered{
		{EnvelopeID: "a", Receipt: []byte(`{"envelope_id":"a","status":"stored"}`)},
		{EnvelopeID: "b", Rejected: true, Reasons: []string{"import.no_agreement", "x"}, Receipt: []byte(`{"envelope_id":"b","status":"rejected"}`)},
		{EnvelopeID: "c"},
		{EnvelopeID: "d", Rejected: true},
		{EnvelopeID: "e", Receipt: []byte(`{"envelope_id":"e","status":"duplicate"}`)},
	}
	got, err := encodeDeliveries(ds, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds) {
		t.Fatalf("%d answers for %d", len(got), len(ds))
	}
	for i, d := range ds {
		dv := delivery{State: StateDelivered, DeliveredAt: now, Receipt: d.Receipt}
		if d.Rejected {
			dv.State, dv.Reasons = StateRejected, d.Reasons
		}
		want, err := json.Marshal(dv)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[i], want) {
			t.Errorf("%s: %s, want %s", d.EnvelopeID, got[i], want)
		}
		if cap(got[i]) != len(got[i]) {
			t.Errorf("%s: room for %d more bytes, into the next answer", d.EnvelopeID, cap(got[i])-len(got[i]))
		}
	}
}

// BenchmarkMarkDelivered records the answers to a delivery batch of 100,
// each with a receipt of the size a batch-signed one has, as a delivery
// worker does for each batch. The batch is queued outside the timer; the
// store does not fsync, so the figure is the work of the call itself;
// cpu-ns/record is the process's CPU time over the calls, which other
// work on a shared machine moves less than the wall time.
func BenchmarkMarkDelivered(b *testing.B) {
	s := openWith(b, Options{NoSync: true})
	ctx := context.Background()
	receipt := []byte(`{"envelope_id":"01JABCDEFGHJKMNPQRSTVW0000","payload_digest":"sha256:` + strings.Repeat("0", 64) + `","receiver":"laborlink://node/44/p44","status":"stored","received_at":"2026-12-06T15:00:00.123Z","batch":{"root":"` + strings.Repeat("A", 44) + `","index":1,"size":100,"path":[` + strings.Repeat(`"`+strings.Repeat("A", 44)+`",`, 6) + `"` + strings.Repeat("A", 44) + `"],"signature":"` + strings.Repeat("A", 96) + `"}}`)
	n := 0
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		os := make([]Outgoing, 100)
		ds := make([]Delivered, 100)
		for i := range os {
			os[i] = outgoing(n, "44")
			ds[i] = Delivered{EnvelopeID: os[i].EnvelopeID, Receipt: receipt, PayloadDigest: "sha256:" + strings.Repeat("0", 64)}
			n++
		}
		if _, err := s.Enqueue(ctx, os); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := procstat.CPUTime()
		if err := s.MarkDelivered(ctx, "44", ds); err != nil {
			b.Fatal(fmt.Errorf("batch ending %d: %w", n, err))
		}
		cpu += procstat.CPUTime() - cpu0
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/record")
}
