package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// moody is a peer whose mood the test sets: refusing every batch (400),
// or breaking the protocol in every answer, or neither. Besides, it
// refuses (400) a batch holding a corrupt envelope, breaks the answers
// for garbled ones and defers waiting ones. It counts what it stored, and
// its calls.
type moody struct {
	mu                        sync.Mutex
	refuseAll, garbleAll      bool
	corrupt, garbled, waiting map[string]bool
	stored                    map[string]int
	calls                     int
}

func newMoody() *moody {
	return &moody{corrupt: map[string]bool{}, garbled: map[string]bool{}, waiting: map[string]bool{}, stored: map[string]int{}}
}

func (p *moody) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.refuseAll {
		return nil, &answerError{400, "bad batch: no agreement with this node"}
	}
	for i, q := range batch {
		if p.corrupt[q.EnvelopeID] {
			return nil, &answerError{400, fmt.Sprintf("bad batch: envelopes[%d]: invalid", i)}
		}
	}
	e := &BrokenAnswerError{Peer: "44"}
	for _, q := range batch {
		switch {
		case p.garbleAll || p.garbled[q.EnvelopeID]:
			e.Broken = append(e.Broken, BrokenAnswer{EnvelopeID: q.EnvelopeID, Err: fmt.Errorf("receipt for %s is for payload sha256:00", q.EnvelopeID)})
		case p.waiting[q.EnvelopeID]:
			e.Outcomes = append(e.Outcomes, Outcome{EnvelopeID: q.EnvelopeID, Deferred: true, Reasons: []string{"case_unknown"}})
		default:
			p.stored[q.EnvelopeID]++
			e.Outcomes = append(e.Outcomes, Outcome{EnvelopeID: q.EnvelopeID, Receipt: []byte(`"receipt"`)})
		}
	}
	if len(e.Broken) > 0 {
		return nil, e
	}
	return e.Outcomes, nil
}

// set changes p's mood and returns its calls so far.
func (p *moody) set(fn func(p *moody)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
	return p.calls
}

func (p *moody) storedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.stored))
}

// startMoody runs a manager for p with batches of size, inFlight of them.
func startMoody(t *testing.T, s *store.Store, p Sender, size, inFlight int) *Manager {
	t.Helper()
	cfg := strictConfig(size)
	cfg.InFlight = inFlight
	return startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// without is ids less those in drop.
func without(ids []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(drop, id) })
}

// TestAMisconfiguredPeerMendedBuriesNothing: a peer that refuses every
// batch, or breaks the protocol in every answer (a wrong agreement, a
// wrong key), for long enough that the whole queue is passed over again
// and again, with batches in flight together, has nothing buried once it
// is mended: every envelope is delivered.
func TestAMisconfiguredPeerMendedBuriesNothing(t *testing.T) {
	for _, tt := range []struct {
		name     string
		inFlight int
		garble   bool
	}{
		{"refusing, one in flight", 1, false},
		{"refusing, 4 in flight", 4, false},
		{"garbling, one in flight", 1, true},
		{"garbling, 4 in flight", 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openOutbox(t)
			p := newMoody()
			p.set(func(p *moody) { p.refuseAll, p.garbleAll = !tt.garble, tt.garble })
			m := startMoody(t, s, p, 4, tt.inFlight)
			enqueue(t, s, 0, 40)
			m.Notify("44")
			gatewaytest.Eventually(t, "the queue passed over again and again", func() bool { return p.set(func(*moody) {}) >= 150 })
			p.set(func(p *moody) { p.refuseAll, p.garbleAll = false, false })
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			if dead := deadLetters(t, s); len(dead) != 0 {
				t.Errorf("dead letters %v, want none", slices.Sorted(maps.Keys(dead)))
			}
			if got := p.storedIDs(); !slices.Equal(got, ids(0, 40)) {
				t.Errorf("the peer stored %v, want all 40", got)
			}
		})
	}
}

// TestCulpritsBehindAMisconfigurationAreBuriedOnceMended: the peer
// refuses everything for a while, then is mended; the envelopes it
// refuses for good, or whose answers it always garbles, at the head of the
// queue and in its middle, are buried, and every other one is delivered,
// with batches in flight together or not.
func TestCulpritsBehindAMisconfigurationAreBuriedOnceMended(t *testing.T) {
	culprits := append(ids(0, 3), ids(20, 5)...)
	for _, garbled := range []bool{false, true} {
		for _, inFlight := range []int{1, 4} {
			t.Run(fmt.Sprint("garbled ", garbled, ", in flight ", inFlight), func(t *testing.T) {
				s := openOutbox(t)
				p := newMoody()
				p.set(func(p *moody) {
					p.refuseAll = true
					for _, id := range culprits {
						if garbled {
							p.garbled[id] = true
						} else {
							p.corrupt[id] = true
						}
					}
				})
				m := startMoody(t, s, p, 4, inFlight)
				enqueue(t, s, 0, 60)
				m.Notify("44")
				gatewaytest.Eventually(t, "the queue passed over", func() bool { return p.set(func(*moody) {}) >= 150 })
				p.set(func(p *moody) { p.refuseAll = false })
				gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
				dead := deadLetters(t, s)
				if got := slices.Sorted(maps.Keys(dead)); !slices.Equal(got, slices.Sorted(slices.Values(culprits))) {
					t.Errorf("dead letters %v, want %v", got, slices.Sorted(slices.Values(culprits)))
				}
				for _, d := range dead {
					if garbled != (d.Status == store.StatusBrokenAnswer) {
						t.Errorf("dead letter %s has status %d", d.EnvelopeID, d.Status)
					}
				}
				if got := p.storedIDs(); !slices.Equal(got, without(ids(0, 60), culprits...)) {
					t.Errorf("the peer stored %v, want all but the culprits", got)
				}
			})
		}
	}
}

// TestDeadLettersRequeuedWhileTheQueueIsPassedOver: dead letters requeued
// while the peer refuses everything come back with ids older than every
// envelope passed over; they are passed over as those are, and, their
// cause mended, delivered once the peer takes envelopes again, not
// buried on the evidence against those. Still refused, they are buried
// again, and the rest is delivered.
func TestDeadLettersRequeuedWhileTheQueueIsPassedOver(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mended bool
	}{{"mended", true}, {"still refused", false}} {
		for _, inFlight := range []int{1, 4} {
			t.Run(fmt.Sprint(tt.name, " ", inFlight), func(t *testing.T) {
				s := openOutbox(t)
				p := newMoody()
				p.set(func(p *moody) { p.corrupt["01E000000"], p.corrupt["01E000001"] = true, true })
				m := startMoody(t, s, p, 4, inFlight)
				enqueue(t, s, 0, 8)
				m.Notify("44")
				gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
				if dead := deadLetters(t, s); len(dead) != 2 {
					t.Fatalf("dead letters %v, want 01E000000 and 01E000001", slices.Sorted(maps.Keys(dead)))
				}
				calls := p.set(func(p *moody) { p.refuseAll = true })
				enqueue(t, s, 8, 32)
				m.Notify("44")
				gatewaytest.Eventually(t, "the queue passed over", func() bool { return p.set(func(*moody) {}) >= calls+100 })
				if tt.mended {
					p.set(func(p *moody) { clear(p.corrupt) })
				}
				if n, err := s.Requeue(context.Background(), "44", store.DeadPick{Through: store.EveryBurial}); err != nil || n != 2 {
					t.Fatalf("requeue = %d, %v", n, err)
				}
				m.Notify("44")
				calls = p.set(func(*moody) {})
				gatewaytest.Eventually(t, "the requeued ones passed over too", func() bool { return p.set(func(*moody) {}) >= calls+100 })
				p.set(func(p *moody) { p.refuseAll = false })
				gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
				want := []string{}
				if !tt.mended {
					want = ids(0, 2)
				}
				if got := slices.Sorted(maps.Keys(deadLetters(t, s))); !slices.Equal(got, want) {
					t.Errorf("dead letters %v, want %v", got, want)
				}
				if got := p.storedIDs(); !slices.Equal(got, without(ids(0, 40), want...)) {
					t.Errorf("the peer stored %v", got)
				}
			})
		}
	}
}

// TestDeferralsAmongCulpritsPassedOver: the peer defers some envelopes,
// refuses others for good, and takes the rest, with culprits at the head
// and batches in flight together. The deferred ones are never buried
// however often the culprits around them are passed over; they are
// delivered once the peer takes them, and the culprits alone are buried.
func TestDeferralsAmongCulpritsPassedOver(t *testing.T) {
	culprits := ids(0, 4)
	waiting := []string{"01E000004", "01E000009", "01E000010"}
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprint(inFlight), func(t *testing.T) {
			s := openOutbox(t)
			p := newMoody()
			p.set(func(p *moody) {
				for _, id := range culprits {
					p.corrupt[id] = true
				}
				for _, id := range waiting {
					p.waiting[id] = true
				}
			})
			m := startMoody(t, s, p, 4, inFlight)
			enqueue(t, s, 0, 40)
			m.Notify("44")
			gatewaytest.Eventually(t, "all but the deferred to leave the queue", func() bool { return depth(t, s) == len(waiting) })
			// A spell of refusing everything while they wait.
			calls := p.set(func(p *moody) { p.refuseAll = true })
			gatewaytest.Eventually(t, "the deferred refused a while", func() bool { return p.set(func(*moody) {}) >= calls+60 })
			p.set(func(p *moody) { p.refuseAll = false })
			enqueue(t, s, 40, 8)
			m.Notify("44")
			gatewaytest.Eventually(t, "those queued after to be delivered", func() bool { return depth(t, s) == len(waiting) })
			p.set(func(p *moody) { clear(p.waiting) })
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			if got := slices.Sorted(maps.Keys(deadLetters(t, s))); !slices.Equal(got, culprits) {
				t.Errorf("dead letters %v, want %v", got, culprits)
			}
			if got := p.storedIDs(); !slices.Equal(got, without(ids(0, 48), culprits...)) {
				t.Errorf("the peer stored %v, want all but the culprits", got)
			}
		})
	}
}

// recording is an outbox that closes took once it has recorded the
// peer's first answers.
type recording struct {
	*store.Store
	once sync.Once
	took chan struct{}
}

func (o *recording) MarkDelivered(ctx context.Context, peer string, ds []store.Delivered) error {
	err := o.Store.MarkDelivered(ctx, peer, ds)
	o.once.Do(func() { close(o.took) })
	return err
}

// TestABatchFailedWhileThePeerTakesAnotherIsBuriedOnAQuietLink: two
// batches in flight; the peer breaks the protocol in every answer of the
// older one while it takes the other, and nothing is queued after. The
// peer took envelopes while it failed them, so the envelopes passed over
// are tried again and, failed again, buried, without waiting for traffic
// that may never come to show the peer taking envelopes once more.
func TestABatchFailedWhileThePeerTakesAnotherIsBuriedOnAQuietLink(t *testing.T) {
	s := openOutbox(t)
	o := &recording{Store: s, took: make(chan struct{})}
	bad := ids(0, 4)
	p := newGarbling(map[string]int{})
	for _, id := range bad {
		p.breaks[id] = -1
	}
	sentBad, quit := make(chan struct{}), make(chan struct{})
	var once sync.Once
	peer := senderFunc(func(b []store.Queued) ([]Outcome, error) {
		if slices.Contains(bad, b[0].EnvelopeID) {
			once.Do(func() { close(sentBad) })
			select {
			case <-o.took: // the peer answers both at once
			case <-quit:
			}
		} else {
			select {
			case <-sentBad:
			case <-quit:
			}
		}
		return p.Send(context.Background(), "44", b)
	})
	cfg := strictConfig(4)
	cfg.InFlight = 2
	m := startManager(t, cfg, o, peer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { close(quit) }) // before Close, which waits for the batches held
	enqueue(t, s, 0, 8)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	dead := deadLetters(t, s)
	if got := slices.Sorted(maps.Keys(dead)); !slices.Equal(got, bad) {
		t.Errorf("dead letters %v, want %v", got, bad)
	}
	for _, d := range dead {
		if d.Status != store.StatusBrokenAnswer {
			t.Errorf("dead letter %+v; want status %d", d, store.StatusBrokenAnswer)
		}
	}
	if received, _ := p.seen(); !slices.Equal(slices.Sorted(maps.Keys(received)), ids(4, 4)) {
		t.Errorf("the peer stored %v, want the 4 good ones", slices.Sorted(maps.Keys(received)))
	}
}
