package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// timeoutError is a batch the peer did not answer in time, as
// peer.TimeoutError.
type timeoutError struct{ envelopes int }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("peer did not answer a batch of %d envelopes within 30s", e.envelopes)
}

// readTimeout is Config.TimedOut for timeoutError.
func readTimeout(err error) bool {
	var t *timeoutError
	return errors.As(err, &t)
}

// slowLink is a peer reached over a link too slow for batches of more
// than most envelopes within the client's timeout: it times out on those,
// and stores the others. It counts what it stored and the batches it saw.
type slowLink struct {
	mu       sync.Mutex
	most     int
	sizes    []int
	received map[string]int
}

func (p *slowLink) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = append(p.sizes, len(batch))
	if len(batch) > p.most {
		return nil, &timeoutError{len(batch)}
	}
	for _, q := range batch {
		p.received[q.EnvelopeID]++
	}
	return receipted(batch), nil
}

func (p *slowLink) set(most int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.most = most
}

func (p *slowLink) seen() (received map[string]int, sizes []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.received), append([]int(nil), p.sizes...)
}

// slowConfig is strictConfig with timeouts read by readTimeout, and a
// clock the test moves.
func slowConfig(batchSize int, now *atomic.Int64) Config {
	cfg := strictConfig(batchSize)
	cfg.TimedOut = readTimeout
	cfg.ShrinkHold = time.Minute
	now.Store(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC).UnixNano())
	cfg.Now = func() time.Time { return time.Unix(0, now.Load()) }
	return cfg
}

// TestATimeoutHalvesTheBatch: a peer that times out on every batch of
// more than 3 envelopes (a slow link, large records) would be sent the
// same full batch for ever; each timeout halves the batch size instead,
// until the batches go through, and the queue drains, each envelope
// stored once. The worker's error said what happened meanwhile.
func TestATimeoutHalvesTheBatch(t *testing.T) {
	s := openOutbox(t)
	p := &slowLink{most: 3, received: map[string]int{}}
	var now atomic.Int64
	var logs gatewaytest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := startManager(t, slowConfig(16, &now), s, p, log)
	enqueue(t, s, 0, 40)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	received, sizes := p.seen()
	if len(received) != 40 {
		t.Errorf("peer stored %d envelopes, want 40", len(received))
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("envelope %s stored %d times", id, n)
		}
	}
	if want := []int{16, 8, 4, 2}; len(sizes) < len(want) || fmt.Sprint(sizes[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("batches sent %v, want them to start %v: halved after each timeout", sizes, want)
	}
	if st := m.Peers(); st[0].BatchSize != 2 || st[0].Failures != 0 {
		t.Errorf("peer state = %+v, want batch size 2 and no failure left", st[0])
	}
	if logged := logs.String(); !strings.Contains(logged, "the peer did not answer a batch in time; sending fewer envelopes per batch") || !strings.Contains(logged, "the next batches carry at most 8 envelopes") {
		t.Errorf("log says nothing of the halving:\n%s", logged)
	}
}

// TestALoweredBatchSizeGrowsBack: once the hold is over, the size
// doubles, and doubles again with each full batch the peer answers, up to
// BatchSize: a peer still too slow for larger batches costs one timeout
// per hold, not a timeout at every halving from a full batch back down
// (enough in a row to open its breaker), and one fast again is back to
// full batches within a few requests.
func TestALoweredBatchSizeGrowsBack(t *testing.T) {
	s := openOutbox(t)
	p := &slowLink{most: 2, received: map[string]int{}}
	var now atomic.Int64
	m := startManager(t, slowConfig(16, &now), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if st := m.Peers(); st[0].BatchSize != 2 {
		t.Fatalf("batch size = %d, want 2", st[0].BatchSize)
	}

	// Still as slow after the hold: one batch of 4 times out, and the
	// size is 2 again, for another hold.
	_, before := p.seen()
	now.Add(int64(time.Minute))
	enqueue(t, s, 20, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	_, sizes := p.seen()
	if got := sizes[len(before):]; slices.Max(got[1:]) != 2 || got[0] != 4 {
		t.Errorf("batches sent after the hold %v, want one of 4 that timed out, then 2s", got)
	}

	// Fast again after the next hold: 4, 8, then full batches of 16.
	p.set(100)
	_, before = p.seen()
	now.Add(int64(time.Minute))
	enqueue(t, s, 40, 60)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	_, sizes = p.seen()
	if got, want := fmt.Sprint(sizes[len(before):]), "[4 8 16 16 16]"; got != want {
		t.Errorf("batches sent once fast again %s, want %s", got, want)
	}
	if st := m.Peers(); st[0].BatchSize != 16 {
		t.Errorf("batch size = %d, want 16 again", st[0].BatchSize)
	}
}

// TestATimeoutOnAFewEnvelopesHalvesTheSizeNotTheFew: a peer that stalls
// for a moment does not answer a batch of the few envelopes queued in
// time. That says the peer was slow, not that batches of the size are
// too large: the size is halved, as after a full batch's timeout, not
// lowered to half the few, which would send a backlog that follows a few
// envelopes at a time for the whole hold. One envelope alone lowers
// nothing.
func TestATimeoutOnAFewEnvelopesHalvesTheSizeNotTheFew(t *testing.T) {
	for _, tt := range []struct {
		queued, want int
	}{{3, 8}, {1, 16}} {
		t.Run(fmt.Sprint(tt.queued), func(t *testing.T) {
			s := openOutbox(t)
			var calls atomic.Int32
			p := senderFunc(func(b []store.Queued) ([]Outcome, error) {
				if calls.Add(1) == 1 {
					return nil, &timeoutError{len(b)}
				}
				return receipted(b), nil
			})
			var now atomic.Int64
			m := startManager(t, slowConfig(16, &now), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
			enqueue(t, s, 0, tt.queued)
			m.Notify("44")
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			if got := m.Peers()[0].BatchSize; got != tt.want {
				t.Errorf("batch size %d after a timeout on %d envelopes of 16, want %d", got, tt.queued, tt.want)
			}
		})
	}
}
