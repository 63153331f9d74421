package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// series counts the series a collector has now.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

func TestSetByPeerKeepsSeriesAndDropsGonePeers(t *testing.T) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "depth", Help: "h"}, []string{"peer"})
	shown := map[string]bool{}
	setByPeer(g, map[string]int{"44": 1, "33": 2}, shown)
	setByPeer(g, map[string]int{"44": 3}, shown)
	if n := series(g); n != 1 {
		t.Errorf("%d series after 33's queue emptied, want 1", n)
	}
	var m dto.Metric
	if err := g.WithLabelValues("44").Write(&m); err != nil || m.GetGauge().GetValue() != 3 {
		t.Errorf("44's depth %v (%v), want 3", m.GetGauge().GetValue(), err)
	}

	// A scrape while the gauge is set again never finds it empty.
	var empty atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			if series(g) == 0 {
				empty.Add(1)
			}
		}
	}()
	for {
		select {
		case <-done:
			if n := empty.Load(); n > 0 {
				t.Errorf("%d of 2000 scrapes found no series while one peer stayed queued", n)
			}
			return
		default:
			setByPeer(g, map[string]int{"44": 3}, shown)
		}
	}
}

// TestWebhookGaugesAreTheStatesFigures: with a system refusing the push,
// the gauges show the pending items and the failures State reports.
func TestWebhookGaugesAreTheStatesFigures(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var in []store.Incoming
	for i := range 3 {
		in = append(in, store.Incoming{EnvelopeID: fmt.Sprintf("01E%03d", i), From: "51", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)})
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	push, err := webhook.New(webhook.Config{URL: srv.URL, Poll: time.Millisecond, MaxBackoff: time.Millisecond}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); push.Run(ctx) }()
	pkitest.Eventually(t, 10*time.Second, "two failed pushes", func() bool { return push.Failures() >= 2 })
	cancel()
	<-done

	m := newMetrics()
	m.sampleWebhook(push)
	st, err := push.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != uint64(len(in)) || st.Failures < 2 {
		t.Fatalf("State %+v, want %d pending and failures", st, len(in))
	}
	for _, g := range []struct {
		name string
		g    prometheus.Gauge
		want int
	}{
		{"pending", m.webhookPending, int(st.Pending)},
		{"failures", m.webhookFailures, st.Failures},
	} {
		var v dto.Metric
		if err := g.g.Write(&v); err != nil || v.GetGauge().GetValue() != float64(g.want) {
			t.Errorf("the %s gauge is %v (%v), State says %d", g.name, v.GetGauge().GetValue(), err, g.want)
		}
	}
}

// counterValue is the value of c's series with labels.
func counterValue(t *testing.T, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A submission's outcomes are counted in runs of equal labels; each run
// must land on its own series, however the runs alternate.
func TestSubmittedResultsCountsEachOutcome(t *testing.T) {
	m := newMetrics()
	ok := exchange.SubmitResult{Ref: "51/transfer/a", Destination: "44", Outcome: exchange.OutcomeAccepted}
	denied := exchange.SubmitResult{Ref: "51/transfer/b", Destination: "44", Outcome: exchange.OutcomeDenied}
	toOther := exchange.SubmitResult{Ref: "51/referral/c", Destination: "33", Outcome: exchange.OutcomeAccepted}
	invalid := exchange.SubmitResult{Ref: "garbled", Outcome: exchange.OutcomeInvalid}
	m.submittedResults([]exchange.SubmitResult{ok, ok, denied, ok, toOther, toOther, invalid, ok})
	m.submittedResults([]exchange.SubmitResult{ok})
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"transfer", "44", "accepted"}, 5},
		{[]string{"transfer", "44", "denied"}, 1},
		{[]string{"referral", "33", "accepted"}, 2},
		{[]string{"unknown", "unknown", "invalid"}, 1},
	} {
		if got := counterValue(t, m.submitted, c.labels...); got != c.want {
			t.Errorf("submitted %v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := series(m.submitted); n != 4 {
		t.Errorf("%d series, want 4", n)
	}
}

// Decisions land on the series of their side and cache answer.
func TestDecidedObservesBySideAndCache(t *testing.T) {
	m := newMetrics()
	m.decided(policy.Export, time.Microsecond, true)
	m.decided(policy.Export, time.Microsecond, true)
	m.decided(policy.Import, time.Millisecond, false)
	for _, c := range []struct {
		side, cached string
		want         uint64
	}{{"export", "true", 2}, {"export", "false", 0}, {"import", "false", 1}, {"import", "true", 0}} {
		var d dto.Metric
		if err := m.decisions.WithLabelValues(c.side, c.cached).(prometheus.Histogram).Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetHistogram().GetSampleCount(); got != c.want {
			t.Errorf("decisions side=%s cached=%s: %d, want %d", c.side, c.cached, got, c.want)
		}
	}
}

// gaugeByPeer reads each peer's value from a scrape of c, a gauge by peer.
func gaugeByPeer(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	got := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		got[d.GetLabel()[0].GetValue()] = d.GetGauge().GetValue()
	}
	return got
}

// The gauge is what the breaker holds when scraped: a breaker whose open
// time has passed reads half-open at once, as the breaker itself does,
// not its old state until some later sample.
func TestBreakerGaugeReadsTheBreakerWhenScraped(t *testing.T) {
	// A stall of a loaded machine longer than the open time between the
	// trip and the read would half-open the breaker first: the read is
	// then tried again, with a new breaker, but only when the clock says
	// that is what happened.
	for attempt := 1; !breakerGaugeReadsTheBreaker(t, attempt == 3); attempt++ {
		t.Logf("attempt %d: the machine stalled past the breaker's open time; trying again", attempt)
	}
}

// breakerGaugeReadsTheBreaker runs TestBreakerGaugeReadsTheBreakerWhenScraped
// once; it returns false, unless last, when the open breaker read
// otherwise after its open time had passed.
func breakerGaugeReadsTheBreaker(t *testing.T, last bool) bool {
	const open = 500 * time.Millisecond
	var changes atomic.Int32
	cb := gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name: "44", Timeout: open,
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
		OnStateChange: func(string, gobreaker.State, gobreaker.State) { changes.Add(1) },
	})
	var made atomic.Bool // the peer's breaker exists from its first delivery
	states := breakerStates(func() map[string]gobreaker.State {
		if !made.Load() {
			return nil
		}
		return map[string]gobreaker.State{"44": cb.State()}
	})
	if got := gaugeByPeer(t, states); len(got) != 0 {
		t.Fatalf("before any delivery the gauge has series %v, want none", got)
	}
	made.Store(true)
	if got := gaugeByPeer(t, states); got["44"] != 0 {
		t.Fatalf("a breaker that never opened reads %v, want 0 (closed)", got["44"])
	}
	tripped := time.Now()
	cb.Execute(func() (any, error) { return nil, errors.New("44 is down") })
	if got := gaugeByPeer(t, states); got["44"] != 2 {
		if !last && time.Since(tripped) >= open {
			return false
		}
		t.Fatalf("an open breaker reads %v, want 2 (open)", got["44"])
	}
	time.Sleep(open + 50*time.Millisecond) // past the open time: the next read half-opens it
	if got := gaugeByPeer(t, states); got["44"] != 1 {
		t.Fatalf("a breaker past its open time reads %v, want 1 (half-open)", got["44"])
	}
	if n := changes.Load(); n != 2 {
		t.Fatalf("the breaker changed state %d times, want 2 (open, half-open)", n)
	}
	return true
}

// The deferral gauge reads the delivery workers when scraped: a peer's
// envelopes deferred, which the failure counter does not count.
func TestDeferredGaugeReadsTheWorkers(t *testing.T) {
	var peers []delivery.PeerState
	g := deferredByPeer(func() []delivery.PeerState { return peers })
	if got := gaugeByPeer(t, g); len(got) != 0 {
		t.Fatalf("with no worker the gauge has series %v, want none", got)
	}
	peers = []delivery.PeerState{{Peer: "44", Deferred: 3}, {Peer: "33"}}
	if got := gaugeByPeer(t, g); len(got) != 2 || got["44"] != 3 || got["33"] != 0 {
		t.Fatalf("gauge %v, want 44: 3 and 33: 0", got)
	}
}
