package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
)

// BenchmarkBatchPath pushes batches of 100 transfers through a development
// federation's 51 -> 44 path and waits for delivery: records per second
// over the whole path, all nodes in this process.
func BenchmarkBatchPath(b *testing.B) {
	ctx := context.Background()
	f := devfedtest.Seeded(b, 1)
	origin, err := f.APIClient("51", f.Certs["51"].System)
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Records: b.N * 100, Batch: 100, Concurrency: 4, Origin: "51", Destination: "44", Seed: uint64(time.Now().UnixNano())}
	reqs, err := Generate(o)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	r := Push(ctx, []Submitter{Gateway{origin}}, reqs, o)
	if _, err := Drain(ctx, origin); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if r.Errors > 0 {
		b.Fatalf("%d errors: %s", r.Errors, r.FirstError)
	}
	b.ReportMetric(float64(o.Records)/b.Elapsed().Seconds(), "records/s")
}
