package delivery

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// lagging is a healthy peer that defers some envelopes (their referral
// has not arrived, say) and stores every other; it counts what it was
// sent.
type lagging struct {
	mu      sync.Mutex
	waiting map[string]bool
	sent    map[string]int
}

func (p *lagging) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := receipted(batch)
	for i, q := range batch {
		p.sent[q.EnvelopeID]++
		if p.waiting[q.EnvelopeID] {
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Deferred: true, Reasons: []string{"case_unknown"}}
		}
	}
	return out, nil
}

func (p *lagging) sends(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[id]
}

// stopWaiting has the peer take the envelopes it deferred.
func (p *lagging) stopWaiting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting = nil
}

// hourConfig backs off for an hour at least, by the clock at now: a
// worker that waited a backoff between two batches would not send the
// second while a test waits for it.
func hourConfig(batchSize int, now *atomic.Int64) Config {
	return Config{BatchSize: batchSize, InFlight: 1, MinBackoff: time.Hour, MaxBackoff: 2 * time.Hour, Idle: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }}
}

// TestADeferredEnvelopeDoesNotSlowItsPeersQueue: a peer that defers one
// envelope has answered, and is healthy. The envelopes queued behind the
// deferred one go at once, batch after batch, without it: it waits for
// its own backoff, by the manager's clock, and is delivered when the
// peer takes it.
func TestADeferredEnvelopeDoesNotSlowItsPeersQueue(t *testing.T) {
	s := openOutbox(t)
	p := &lagging{waiting: map[string]bool{"01E000000": true}, sent: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m := startManager(t, hourConfig(5, &now), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the peer to defer 01E000000", func() bool { return p.sends("01E000000") == 1 })

	for from := 1; from <= 16; from += 5 {
		enqueue(t, s, from, 5)
		m.Notify("44")
		gatewaytest.Eventually(t, "the envelopes queued after the deferred one to be delivered", func() bool { return depth(t, s) == 1 })
	}
	if n := p.sends("01E000000"); n != 1 {
		t.Errorf("the deferred envelope was sent %d times before its backoff ended, want once", n)
	}
	if st := m.Peers()[0]; st.Failures != 0 || st.LastError != "" || st.Deferred != 1 ||
		!strings.Contains(st.LastDeferral, "44 deferred 1 envelopes (case_unknown)") {
		t.Errorf("state of a peer that deferred one envelope: %+v; want no failure, 1 deferred and why", st)
	}

	p.stopWaiting()
	now.Add(int64(3 * time.Hour))
	m.Notify("44")
	gatewaytest.Eventually(t, "the deferred envelope to be delivered", func() bool { return depth(t, s) == 0 })
	if st, err := s.Status("01E000000"); err != nil || st.State != store.StateDelivered {
		t.Errorf("status of the envelope deferred, then taken: %+v, %v", st, err)
	}
	if n := p.sends("01E000000"); n != 2 {
		t.Errorf("the deferred envelope was sent %d times, want twice", n)
	}
	if st := m.Peers()[0]; st.Deferred != 0 || st.LastDeferral != "" {
		t.Errorf("state once the peer took the deferred envelope: %+v; want none deferred", st)
	}
}

// TestAPeerDeferringMoreThanABatchBacksTheWorkerOff: a peer that defers
// more envelopes than a batch holds may be deferring everything (its
// registry down); those beyond a batch are not held apart but make the
// worker back off, as before a peer's failure, instead of the worker
// sending the whole queue around it.
func TestAPeerDeferringMoreThanABatchBacksTheWorkerOff(t *testing.T) {
	s := openOutbox(t)
	p := &lagging{waiting: map[string]bool{"01E000000": true, "01E000001": true, "01E000002": true}, sent: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m := startManager(t, hourConfig(2, &now), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 4)
	m.Notify("44")
	gatewaytest.Eventually(t, "the worker to back off", func() bool { return m.Peers()[0].Failures == 1 })
	st := m.Peers()[0]
	if !strings.Contains(st.LastError, "deferred 1 envelopes") || st.Deferred != 2 {
		t.Errorf("state after a batch's worth of deferrals and one more: %+v", st)
	}
	for id, want := range map[string]int{"01E000000": 1, "01E000001": 1, "01E000002": 1, "01E000003": 1} {
		if n := p.sends(id); n != want {
			t.Errorf("%s sent %d times, want %d", id, n, want)
		}
	}
}

// TestAPeerDeferringEverythingIsNoSuccess: a batch the peer deferred
// whole, held apart again once its hold ended, took nothing: the worker
// neither counts it a success nor forgets its failures, so a peer that
// defers all it is sent keeps the worker backed off rather than being
// sent the rest of the queue again at once.
func TestAPeerDeferringEverythingIsNoSuccess(t *testing.T) {
	s := openOutbox(t)
	p := &lagging{waiting: map[string]bool{"01E000000": true, "01E000001": true, "01E000002": true}, sent: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg := Config{BatchSize: 2, InFlight: 1, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Idle: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Load()) }}
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 3)
	m.Notify("44")
	gatewaytest.Eventually(t, "the worker to fail thrice on what is beyond the held batch", func() bool { return m.Peers()[0].Failures >= 3 })

	now.Add(int64(time.Hour)) // the held batch's hold ends
	m.Notify("44")
	gatewaytest.Eventually(t, "the held batch to be sent again", func() bool { return p.sends("01E000000") == 2 })
	// One batch in flight at a time: once the one beyond is sent again,
	// the worker has taken in the held batch's answer.
	beyond := p.sends("01E000002")
	gatewaytest.Eventually(t, "the envelope beyond the held batch to be sent again", func() bool { return p.sends("01E000002") > beyond })
	if st := m.Peers()[0]; st.Failures < 3 || !st.LastSuccess.IsZero() {
		t.Errorf("state after the peer deferred a whole batch again: %+v; want the failures kept and no success", st)
	}
}

// TestAnEnvelopeDeferredTooLongIsBuried: a peer that keeps deferring an
// envelope it will never decide on (an update of a referral it refused
// for good) has it buried once it has deferred it for longer than
// MaxDeferral, counted from its first deferral across a restart of the
// worker, with a reason saying for how long and why. Requeued, it starts
// its bound anew.
func TestAnEnvelopeDeferredTooLongIsBuried(t *testing.T) {
	s := openOutbox(t)
	p := &lagging{waiting: map[string]bool{"01E000000": true}, sent: map[string]int{}}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(start.UnixNano())
	cfg := hourConfig(5, &now)
	cfg.MaxDeferral = 3 * time.Hour
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := startManager(t, cfg, s, p, log)
	enqueue(t, s, 0, 2)
	m.Notify("44")
	gatewaytest.Eventually(t, "the peer to defer 01E000000 and take 01E000001", func() bool { return m.Peers()[0].Deferred == 1 && depth(t, s) == 1 })

	now.Add(int64(2 * time.Hour)) // its hold ends, within the bound
	m.Notify("44")
	gatewaytest.Eventually(t, "the peer to defer 01E000000 again", func() bool { return p.sends("01E000000") == 2 })
	// A restart forgets the worker's holds, not when the peer first
	// deferred the envelope. Close lets the answer be recorded first.
	m.Close()
	if dead := deadLetters(t, s); len(dead) != 0 || depth(t, s) != 1 {
		t.Fatalf("deferred for 2h of 3h allowed: dead letters %v, depth %d; want it queued still", dead, depth(t, s))
	}
	m = startManager(t, cfg, s, p, log)
	now.Add(int64(90 * time.Minute))
	m.Notify("44")
	gatewaytest.Eventually(t, "the envelope deferred too long to be buried", func() bool { return depth(t, s) == 0 })
	d, ok := deadLetters(t, s)["01E000000"]
	if !ok || d.Status != store.StatusDeferredTooLong ||
		!strings.Contains(d.Reason, "deferred for 3h30m0s since 2030-01-01T00:00:00Z, longer than delivery.max_deferral (3h0m0s)") ||
		!strings.Contains(d.Reason, "case_unknown") {
		t.Fatalf("dead letter of the envelope deferred too long: %+v (found %v); want status %d, for how long and the peer's reason", d, ok, store.StatusDeferredTooLong)
	}
	if st, err := s.Status("01E000000"); err != nil || st.State != store.StateFailed || len(st.Reasons) != 1 || !strings.Contains(st.Reasons[0], "province 44 kept deferring the envelope") {
		t.Errorf("status of the envelope deferred too long: %+v, %v", st, err)
	}
	if n := p.sends("01E000000"); n != 3 {
		t.Errorf("the envelope was sent %d times, want 3", n)
	}
	if st := m.Peers()[0]; st.Deferred != 0 || st.Failures != 0 {
		t.Errorf("state once the envelope deferred too long is buried: %+v; want none deferred, no failure", st)
	}

	// Requeued, it is deferred again and waits: the bound starts anew.
	if _, err := s.Requeue(context.Background(), "44", store.DeadPick{EnvelopeID: "01E000000"}); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(time.Hour))
	m.Notify("44")
	gatewaytest.Eventually(t, "the requeued envelope to be deferred again", func() bool { return p.sends("01E000000") == 4 })
	m.Close()
	if dead := deadLetters(t, s); len(dead) != 0 || depth(t, s) != 1 {
		t.Errorf("a requeued envelope deferred once more: dead letters %v, depth %d; want it queued, its bound started anew", dead, depth(t, s))
	}
}
