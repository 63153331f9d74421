package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// countingOutbox counts the batches the worker takes out to send.
type countingOutbox struct {
	*store.Store
	taken atomic.Int32
}

func (o *countingOutbox) Pending(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	return o.count(o.Store.Pending(peer, limit, skip))
}

func (o *countingOutbox) PendingFull(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	return o.count(o.Store.PendingFull(peer, limit, skip))
}

func (o *countingOutbox) count(qs []store.Queued, err error) ([]store.Queued, error) {
	if len(qs) > 0 {
		o.taken.Add(1)
	}
	return qs, err
}

// halfOpen is a peer behind a breaker that has just let its timeout pass:
// the first call fails (the peer was down), the next is the probe, held
// until release, and calls made while the probe is out are refused, as
// gobreaker refuses them beyond Settings.MaxRequests.
type halfOpen struct {
	first   func() // runs during the first call, to queue more behind it
	probing chan struct{}
	release chan struct{}

	mu      sync.Mutex
	calls   int
	probe   bool
	refused int
}

func (p *halfOpen) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	p.calls++
	switch {
	case p.calls == 1:
		p.mu.Unlock()
		p.first()
		return nil, errors.New("connection refused")
	case p.probe:
		p.refused++
		p.mu.Unlock()
		return nil, errors.New("too many requests")
	case p.calls == 2:
		p.probe = true
		p.mu.Unlock()
		close(p.probing)
		<-p.release
		p.mu.Lock()
		p.probe = false
		p.mu.Unlock()
	default:
		p.mu.Unlock()
	}
	return receipted(batch), nil
}

// TestAfterAFailureOneBatchProbesThePeer: once a batch has failed, the
// worker sends one batch when the backoff ends and more only once that one
// got through. Sending several at once against a half-open breaker has all
// but one refused, each refusal counted as a failure that pushes the next
// attempt further out, while the probe that succeeded found the peer back.
func TestAfterAFailureOneBatchProbesThePeer(t *testing.T) {
	s := openOutbox(t)
	outbox := &countingOutbox{Store: s}
	p := &halfOpen{first: func() { enqueue(t, s, 1, 9) }, probing: make(chan struct{}), release: make(chan struct{})}
	cfg := Config{BatchSize: 1, InFlight: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Idle: time.Hour}
	m := startManager(t, cfg, outbox, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 1)
	m.Notify("44")
	<-p.probing

	// The worker takes a wake-up only between rounds: once this one is
	// taken, the round that sent the probe has started all it would.
	m.mu.Lock()
	w := m.workers["44"]
	m.mu.Unlock()
	m.Notify("44")
	gatewaytest.Eventually(t, "the worker to finish its round", func() bool { return len(w.wake) == 0 })
	if n := outbox.taken.Load(); n != 2 {
		t.Errorf("batches taken with the probe out = %d, want 2 (the failed one and the probe)", n)
	}

	close(p.release)
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refused != 0 {
		t.Errorf("%d batches were refused by the half-open breaker", p.refused)
	}
}

// deferring is a healthy peer whose registry lags: it defers the first
// envelope for good, and holds every other batch until release.
type deferring struct {
	first   func()
	release chan struct{}

	mu    sync.Mutex
	calls int
	held  int
}

func (p *deferring) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	p.calls++
	if p.calls == 1 {
		p.mu.Unlock()
		p.first()
		return []Outcome{{EnvelopeID: batch[0].EnvelopeID, Deferred: true, Reasons: []string{"agreement.unknown"}}}, nil
	}
	p.held++
	p.mu.Unlock()
	<-p.release
	out := make([]Outcome, len(batch))
	for i, q := range batch {
		out[i] = Outcome{EnvelopeID: q.EnvelopeID, Receipt: []byte(`"receipt"`)}
		if q.EnvelopeID == "01E000000" {
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Deferred: true, Reasons: []string{"agreement.unknown"}}
		}
	}
	return out, nil
}

// TestADeferralDoesNotMakeTheWorkerProbe: a peer that defers envelopes has
// answered; after the backoff the worker keeps its batches in flight rather
// than sending one at a time as to a peer that is down.
func TestADeferralDoesNotMakeTheWorkerProbe(t *testing.T) {
	s := openOutbox(t)
	p := &deferring{first: func() { enqueue(t, s, 1, 9) }, release: make(chan struct{})}
	cfg := Config{BatchSize: 1, InFlight: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Idle: time.Hour}
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer close(p.release)
	enqueue(t, s, 0, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "four batches in flight after the deferral", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.held == 4
	})
}
