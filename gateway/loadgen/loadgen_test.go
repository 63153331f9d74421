package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
)

// TestPushOverTheRealPath runs a small load through a development
// federation and checks that every record was accepted and delivered.
func TestPushOverTheRealPath(t *testing.T) {
	ctx := context.Background()
	f := devfedtest.Seeded(t, 1)
	origin, err := f.APIClient("51", f.Certs["51"].System)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Records: 60, Batch: 1, Concurrency: 8, Origin: "51", Destination: "44", Seed: 101},
		{Records: 250, Batch: 100, Concurrency: 2, Origin: "51", Destination: "44", Seed: 102},
	} {
		reqs, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		r := Push(ctx, []Submitter{Gateway{origin}}, reqs, o)
		t.Logf("%s: %.0f records/s, p50 %s p99 %s", r.Mode, r.PerSecond, r.P50, r.P99)
		if r.Accepted != o.Records || r.Errors != 0 {
			t.Fatalf("%s: accepted %d of %d, %d errors (%s)", r.Mode, r.Accepted, o.Records, r.Errors, r.FirstError)
		}
		if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
			t.Errorf("%s: percentiles out of order: %+v", r.Mode, r)
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, err := Drain(dctx, origin)
		t.Logf("drained in %s", d)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	dest, _ := f.APIClient("44", f.Certs["44"].System)
	page, err := dest.Inbox(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	transfers := 0
	for _, it := range page.Items {
		if it.Type == "transfer" {
			transfers++
		}
	}
	if want := 1 + 60 + 250; transfers != want {
		t.Errorf("destination holds %d transfers, want %d", transfers, want)
	}
}
