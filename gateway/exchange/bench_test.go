package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/procstat"
)

// BenchmarkExchange measures the record path between two nodes in this
// process (Submit on the exchange, durable outbox, delivery over mutual TLS,
// import, durable inbox, receipts), with the audit log as on a real node (in
// node.db, sharing its writer) and with no audit log at all, to show what
// auditing every flow costs. A record counts once the origin holds its
// receipt. It skips the local API's HTTP layer, which laborlink bench covers.
func BenchmarkExchange(b *testing.B) {
	for _, audit := range []struct {
		name string
		mode auditMode
	}{{"audit=node.db", auditInStore}, {"audit=off", auditOff}} {
		for _, shape := range []struct {
			name               string
			batch, concurrency int
		}{{"single", 1, 32}, {"batch-100", 100, 4}} {
			b.Run(audit.name+"/"+shape.name, func(b *testing.B) {
				benchExchange(b, audit.mode, shape.batch, shape.concurrency)
			})
		}
	}
}

var benchRun atomic.Uint64

func benchExchange(b *testing.B, mode auditMode, batch, concurrency int) {
	f := newFederationWith(b, mode, 100, "51", "44")
	f.agreement("51", "44")
	origin := f.nodes["51"]
	reqs := transfers(b, b.N, batch, benchRun.Add(1))
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Pointer[string]
	cpu0 := procstat.CPUTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				res, err := origin.x.Submit(ctx, origin.system, reqs[i])
				if err != nil {
					msg := err.Error()
					failed.Store(&msg)
					return
				}
				for _, r := range res {
					if r.Outcome != OutcomeAccepted {
						msg := fmt.Sprintf("record %d: %s %v %v", r.Index, r.Outcome, r.Problems, r.Reasons)
						failed.Store(&msg)
					}
				}
			}
		})
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		b.Fatal(*msg)
	}
	for {
		if origin.store.Depth()["44"] == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
}

// transfers generates n distinct transfers of the 51 -> 44 corridor, in
// requests of batch records.
func transfers(b *testing.B, n, batch int, seed uint64) [][]json.RawMessage {
	b.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	var reqs [][]json.RawMessage
	for sent := 0; sent < n; {
		req := make([]json.RawMessage, min(batch, n-sent))
		for i := range req {
			t := g.Transfer()
			t.ID = fmt.Sprintf("BENCH-%d-%07d", seed, sent+i)
			if req[i], err = json.Marshal(t); err != nil {
				b.Fatal(err)
			}
		}
		reqs = append(reqs, req)
		sent += len(req)
	}
	return reqs
}
