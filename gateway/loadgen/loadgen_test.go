package loadgen

import (
	"context"
	"os"
	"sync/atomic"
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

func TestPeakKeepsTheHighestReading(t *testing.T) {
	readings := make(chan int64, 4)
	for _, v := range []int64{3, 12, 4, 5} {
		readings <- v
	}
	var last atomic.Int64
	stop := make(chan struct{})
	peak := Peak(time.Millisecond, stop, func() int64 {
		select {
		case v := <-readings:
			last.Store(v)
		default:
		}
		return last.Load()
	})
	deadline := time.Now().Add(5 * time.Second)
	for len(readings) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if got := peak.Max(); got != 12 {
		t.Errorf("peak %d after readings 3, 12, 4, 5; want 12", got)
	}
}

// Max counts the reading taken when stop is closed: the end of a run is
// often its highest point.
func TestPeakTakesTheLastReading(t *testing.T) {
	var v atomic.Int64
	v.Store(1)
	stop := make(chan struct{})
	peak := Peak(time.Hour, stop, v.Load)
	v.Store(7)
	close(stop)
	if got := peak.Max(); got != 7 {
		t.Errorf("peak %d, want the reading at stop, 7", got)
	}
}

func TestProcessMemoryReadings(t *testing.T) {
	pid := os.Getpid()
	anon, peak := ProcessAnonRSS(pid), ProcessPeakRSS(pid)
	if anon <= 0 || peak < anon {
		t.Errorf("this process: anonymous %d bytes, peak resident %d", anon, peak)
	}
	if got := ProcessAnonRSS(-1); got != 0 {
		t.Errorf("a process that does not exist: %d", got)
	}
}
