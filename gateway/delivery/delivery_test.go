package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// peer is a fake destination: it can be down, and it counts what it stored.
type peer struct {
	mu       sync.Mutex
	down     bool
	calls    int
	received map[string]int
	reject   map[string]bool
}

func (p *peer) Send(_ context.Context, to string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		return nil, errors.New("connection refused")
	}
	out := make([]Outcome, len(batch))
	for i, q := range batch {
		p.received[q.EnvelopeID]++
		out[i] = Outcome{EnvelopeID: q.EnvelopeID, Receipt: []byte(`"receipt"`)}
		if p.reject[q.EnvelopeID] {
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Rejected: true, Reasons: []string{"import.denied"}}
		}
	}
	return out, nil
}

func (p *peer) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *peer) snapshot() (calls int, received map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	received = make(map[string]int, len(p.received))
	for k, v := range p.received {
		received[k] = v
	}
	return p.calls, received
}

func testConfig() Config {
	return Config{BatchSize: 7, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Idle: 20 * time.Millisecond}
}

// openOutbox opens a store in a temporary directory, closed with the test.
func openOutbox(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// receipted answers every envelope of batch stored.
func receipted(batch []store.Queued) []Outcome {
	out := make([]Outcome, len(batch))
	for i, q := range batch {
		out[i] = Outcome{EnvelopeID: q.EnvelopeID, Receipt: []byte(`"receipt"`)}
	}
	return out
}

func enqueue(t *testing.T, s *store.Store, from, n int) {
	t.Helper()
	var msgs []store.Outgoing
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("01E%06d", i)
		msgs = append(msgs, store.Outgoing{EnvelopeID: id, Ref: "ref-" + id, Type: "transfer", Peer: "44", Envelope: []byte(`{}`)})
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

func depth(t *testing.T, s *store.Store) int {
	t.Helper()
	return s.Depth()["44"]
}

func TestEveryEnvelopeDeliveredOnceAcrossOutageAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{received: map[string]int{}, down: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	m, err := NewManager(testConfig(), s, p, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, 0, 30)
	m.Notify("44")
	gatewaytest.Eventually(t, "retries against the down peer", func() bool { c, _ := p.snapshot(); return c >= 3 })
	if got := m.Peers(); len(got) != 1 || got[0].Failures == 0 || got[0].LastError == "" {
		t.Errorf("peer state while down = %+v", got)
	}
	// Restart the node while the peer is down: nothing may be lost.
	m.Close()
	s.Close()
	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err = NewManager(testConfig(), s, p, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Notify("44")
	enqueue(t, s, 30, 20)
	p.setDown(false)
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	_, received := p.snapshot()
	if len(received) != 50 {
		t.Fatalf("peer received %d distinct envelopes, want 50", len(received))
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("envelope %s received %d times", id, n)
		}
		st, err := s.Status(id)
		if err != nil || st.State != store.StateDelivered || string(st.Receipt) != `"receipt"` {
			t.Errorf("status of %s = %+v, %v", id, st, err)
		}
	}
}

func TestRejectedEnvelopesLeaveTheOutbox(t *testing.T) {
	s := openOutbox(t)
	p := &peer{received: map[string]int{}, reject: map[string]bool{"01E000001": true}}
	m := startManager(t, testConfig(), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 3)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	st, _ := s.Status("01E000001")
	if st.State != store.StateRejected || len(st.Reasons) != 1 || st.Reasons[0] != "import.denied" {
		t.Errorf("rejected status = %+v", st)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	cfg := Config{BatchSize: 1, MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, Idle: time.Second}
	tests := []struct {
		failures int
		lo, hi   time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{10, time.Second, 2 * time.Second},
		{500, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := backoff(cfg, tt.failures)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("backoff after %d failures = %s, want in [%s, %s]", tt.failures, d, tt.lo, tt.hi)
			}
			seen[d] = true
		}
		// Jittered: peers recovering together must not retry in step.
		if len(seen) < 10 {
			t.Errorf("backoff after %d failures took %d distinct values in 50 draws, want jitter", tt.failures, len(seen))
		}
	}
}

// TestAHealthyPeerShowsItsLastSuccess: a worker that has delivered shows
// when it last did, with no failures, and logs no resumption it never
// needed.
func TestAHealthyPeerShowsItsLastSuccess(t *testing.T) {
	s := openOutbox(t)
	var logs gatewaytest.Buffer
	before := time.Now()
	m := startManager(t, testConfig(), s, &peer{received: map[string]int{}}, slog.New(slog.NewTextHandler(&logs, nil)))
	enqueue(t, s, 0, 3)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	gatewaytest.Eventually(t, "the worker to record its success", func() bool {
		st := m.Peers()
		return len(st) == 1 && !st[0].LastSuccess.IsZero()
	})
	if st := m.Peers()[0]; st.Failures != 0 || st.LastError != "" || st.LastSuccess.Before(before) {
		t.Errorf("state of a peer that took every batch: %+v", st)
	}
	if strings.Contains(logs.String(), "delivery resumed") {
		t.Errorf("a worker that never failed logged a resumption:\n%s", logs.String())
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{BatchSize: 0, MinBackoff: 1, MaxBackoff: 1, Idle: 1},
		{BatchSize: contracts.MaxDeliveryBatch + 1, MinBackoff: 1, MaxBackoff: 1, Idle: 1}, // every peer would refuse it
		{BatchSize: 1, MinBackoff: 0, MaxBackoff: 1, Idle: 1},
		{BatchSize: 1, MinBackoff: 2, MaxBackoff: 1, Idle: 1},
		{BatchSize: 1, MinBackoff: 1, MaxBackoff: 1, Idle: 0},
		{BatchSize: 1, MinBackoff: 1, MaxBackoff: 1, Idle: 1, MaxDeferral: -1},
		{BatchSize: 1, MinBackoff: 1, MaxBackoff: 10, Idle: 1, MaxDeferral: 5}, // buried before its retry
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("config %d: want error", i)
		}
	}
	good := map[string]Config{
		"default":        DefaultConfig(),
		"largest batch":  {BatchSize: contracts.MaxDeliveryBatch, MinBackoff: 1, MaxBackoff: 1, Idle: 1},
		"smallest batch": {BatchSize: 1, MinBackoff: 1, MaxBackoff: 1, Idle: 1},
		"max deferral":   {BatchSize: 1, MinBackoff: 1, MaxBackoff: 10, Idle: 1, MaxDeferral: 10},
	}
	for name, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%s config: %v", name, err)
		}
	}
}
