package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// closedOutbox is an empty outbox that notices being used after its
// manager's Close returned, as a store closed right after would be.
type closedOutbox struct{ closed, late atomic.Bool }

func (o *closedOutbox) use() {
	if o.closed.Load() {
		o.late.Store(true)
	}
}

func (o *closedOutbox) Pending(string, int, func(string) bool) ([]store.Queued, error) {
	o.use()
	return nil, nil
}

func (o *closedOutbox) PendingFull(string, int, func(string) bool) ([]store.Queued, error) {
	o.use()
	return nil, nil
}

func (o *closedOutbox) MarkDelivered(context.Context, string, []store.Delivered) error {
	o.use()
	return nil
}

func (o *closedOutbox) MarkDead(context.Context, string, []store.DeadLetter) error {
	o.use()
	return nil
}

func (o *closedOutbox) MarkDeferred(_ context.Context, _ string, ids []string, _ time.Time) ([]time.Time, error) {
	o.use()
	return make([]time.Time, len(ids)), nil
}

// TestNoWorkerOutlivesClose races Notify, as a node resuming its queues
// calls it, against Close: a worker started then must be one Close waits
// for, never one that runs on against a store closed after Close.
func TestNoWorkerOutlivesClose(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range 300 {
		o := &closedOutbox{}
		m, err := NewManager(testConfig(), o, &peer{received: map[string]int{}}, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for p := range 50 {
				m.Notify(fmt.Sprint(p))
			}
		})
		m.Close()
		o.closed.Store(true)
		wg.Wait()
		m.Close() // waits again for any worker Notify started behind the first
		if o.late.Load() {
			t.Fatalf("round %d: a worker used the outbox after Close returned", i)
		}
	}
}

// slowOutbox holds the worker's first read of its queue until release, so
// that Close can begin meanwhile.
type slowOutbox struct {
	*store.Store
	reading chan struct{}
	release chan struct{}
	once    sync.Once
}

func (o *slowOutbox) Pending(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	o.once.Do(func() {
		close(o.reading)
		<-o.release
	})
	return o.Store.Pending(peer, limit, skip)
}

// TestNoBatchStartsOnceCloseBegan: Close lets the batches in flight finish
// but starts none, so a node shutting down does not wait on one more request
// to a peer that may be unreachable.
func TestNoBatchStartsOnceCloseBegan(t *testing.T) {
	s := openOutbox(t)
	o := &slowOutbox{Store: s, reading: make(chan struct{}), release: make(chan struct{})}
	p := &peer{received: map[string]int{}}
	m, err := NewManager(testConfig(), o, p, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, 0, 3)
	m.Notify("44")
	<-o.reading
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	<-m.ctx.Done()
	close(o.release)
	<-closed
	if calls, _ := p.snapshot(); calls != 0 {
		t.Errorf("%d batches were sent after Close began", calls)
	}
	if d := depth(t, s); d != 3 {
		t.Errorf("outbox holds %d envelopes, want the 3 still queued", d)
	}
}

// refusingHeld refuses every batch with 400, holding the first until
// release, so that Close can begin while it is out.
type refusingHeld struct {
	sending chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (p *refusingHeld) Send(context.Context, string, []store.Queued) ([]Outcome, error) {
	if p.calls.Add(1) == 1 {
		close(p.sending)
		<-p.release
	}
	return nil, &answerError{400, "no"}
}

// TestCloseStopsSplittingARefusedBatch: the request out when Close began
// is finished, but the halves of the batch it refused are not sent, and
// nothing is lost: the batch stays queued and nothing is buried.
func TestCloseStopsSplittingARefusedBatch(t *testing.T) {
	s := openOutbox(t)
	p := &refusingHeld{sending: make(chan struct{}), release: make(chan struct{})}
	m, err := NewManager(strictConfig(8), s, p, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, 0, 8)
	m.Notify("44")
	<-p.sending
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	<-m.ctx.Done()
	close(p.release)
	<-closed
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d requests sent; want only the one out when Close began", n)
	}
	if d := depth(t, s); d != 8 {
		t.Errorf("outbox holds %d envelopes, want all 8", d)
	}
	if got := s.DeadLetterCounts(); len(got) != 0 {
		t.Errorf("dead letters = %v, want none", got)
	}
}

// silentPeer takes each request and never answers it, as a peer behind a
// network partition whose connections stay open: a request ends only with
// its context (in a node, with the HTTP client's timeout).
type silentPeer struct{ took chan struct{} }

func (p silentPeer) Send(ctx context.Context, _ string, _ []store.Queued) ([]Outcome, error) {
	p.took <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// failures counts the failed batches an observer hears of.
type failures struct{ n atomic.Int32 }

func (f *failures) Delivered(string, []Outcome, []store.Queued, time.Duration) {}
func (f *failures) Failed(string, error)                                       { f.n.Add(1) }

// TestCloseWithinCutsARequestThePeerDoesNotAnswer: a node shutting down
// waits for a batch in flight only as long as it has, not for the
// request's whole timeout, which alone is as long as the service
// manager's stop timeout; the batch stays queued for the next start, and
// is no failure of the peer's.
func TestCloseWithinCutsARequestThePeerDoesNotAnswer(t *testing.T) {
	s := openOutbox(t)
	p := silentPeer{took: make(chan struct{}, 1)}
	obs := &failures{}
	m, err := NewManager(testConfig(), s, p, obs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, 0, 3)
	m.Notify("44")
	<-p.took
	closed := make(chan struct{})
	go func() {
		m.CloseWithin(10 * time.Millisecond)
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseWithin still waits for a request the peer does not answer")
	}
	if d := depth(t, s); d != 3 {
		t.Errorf("outbox holds %d envelopes, want the 3 of the batch cut", d)
	}
	if n := obs.n.Load(); n != 0 {
		t.Errorf("%d failed batches counted; the cut is the node's, not the peer's", n)
	}
	if st := m.Peers()[0]; st.Failures != 0 || st.LastError != "" {
		t.Errorf("the peer's state after the cut: %+v; want no failure", st)
	}
}
