package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/procstat"
)

// BenchmarkReceive measures storing received envelopes as a destination
// does, 100 to a call from 4 requests at once: envelopes of about 1.5 kB
// whose record is their payload as it came. Without fsync, so that the
// figures are the CPU's. One op is one envelope.
func BenchmarkReceive(b *testing.B) {
	s := openWith(b, Options{NoSync: true})
	const batch, callers = 100, 4
	payload := `{"schema":"laborlink.transfer/v1","worker":{"name":"张三","note":"` + strings.Repeat("x", 1200) + `"}}`
	receipt := json.RawMessage(`{"envelope_id":"01J0000000000000000000000A","payload_digest":"sha256:` + strings.Repeat("0", 64) + `","receiver":"spiffe://laborlink/node/44","status":"stored","received_at":"2026-03-15T08:00:00.123Z","batch":{"root":"` + strings.Repeat("a", 44) + `"}}`)
	calls := (b.N + batch - 1) / batch
	ins := make([][]Incoming, calls)
	for c := range ins {
		for i := range batch {
			id := fmt.Sprintf("01J%08d%015d", c, i)
			env := []byte(`{"id":"` + id + `","origin":"51","destination":"44","payload":` + payload + `,"payload_digest":"sha256:00"}`)
			at := strings.Index(string(env), payload)
			ins[c] = append(ins[c], Incoming{EnvelopeID: id, From: "51", Type: "transfer", ReceivedAt: time.Now(),
				Envelope: env, Record: env[at : at+len(payload)], Receipt: receipt})
		}
	}
	work := make(chan []Incoming, len(ins))
	for _, in := range ins {
		work <- in
	}
	close(work)
	b.ReportAllocs()
	cpu0 := procstat.CPUTime()
	b.ResetTimer()
	done := make(chan error, callers)
	for range callers {
		go func() {
			for in := range work {
				if _, err := s.Receive(context.Background(), in); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range callers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Nanoseconds())/float64(calls*batch), "cpu-ns/record")
}
