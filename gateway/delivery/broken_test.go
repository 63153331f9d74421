package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// garbling is a peer whose answer breaks the protocol for some envelopes:
// breaks[id] more times (-1: always), or every envelope while all is set,
// answering the others stored. It counts the envelopes it answered and
// the batches each envelope was sent in.
type garbling struct {
	mu       sync.Mutex
	breaks   map[string]int
	all      bool
	received map[string]int
	sentIn   map[string][]int // the sizes of the batches an envelope went in
}

func (p *garbling) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := &BrokenAnswerError{Peer: "44"}
	for _, q := range batch {
		p.sentIn[q.EnvelopeID] = append(p.sentIn[q.EnvelopeID], len(batch))
		if n := p.breaks[q.EnvelopeID]; n != 0 || p.all {
			if n > 0 {
				p.breaks[q.EnvelopeID] = n - 1
			}
			e.Broken = append(e.Broken, BrokenAnswer{EnvelopeID: q.EnvelopeID, Err: fmt.Errorf("peer 44 receipt for %s is for payload sha256:00, not the sha256:11 sent (worker phone 13800138000)", q.EnvelopeID)})
			continue
		}
		p.received[q.EnvelopeID]++
		e.Outcomes = append(e.Outcomes, Outcome{EnvelopeID: q.EnvelopeID, Receipt: []byte(`"receipt"`)})
	}
	if len(e.Broken) > 0 {
		return nil, e
	}
	return e.Outcomes, nil
}

func (p *garbling) seen() (received map[string]int, sentIn map[string][]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.received), maps.Clone(p.sentIn)
}

func newGarbling(breaks map[string]int) *garbling {
	return &garbling{breaks: breaks, received: map[string]int{}, sentIn: map[string][]int{}}
}

// TestAnEnvelopeWhoseAnswerKeepsBreakingIsBuried: the peer answers a
// batch whole but breaks the protocol for one envelope of it, every time.
// The others are delivered at once; the bad one is sent again alone, and
// when its answer breaks the protocol again it is buried, with a
// scrubbed reason naming the problem. The queue drains and the worker
// counts no failure.
func TestAnEnvelopeWhoseAnswerKeepsBreakingIsBuried(t *testing.T) {
	s := openOutbox(t)
	p := newGarbling(map[string]int{"01E000003": -1})
	m := startStrict(t, s, p, 8)
	enqueue(t, s, 0, 8)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	dead := deadLetters(t, s)
	d, ok := dead["01E000003"]
	if len(dead) != 1 || !ok || d.Status != store.StatusBrokenAnswer || !strings.HasPrefix(d.Reason, "answer breaks the protocol: peer 44 receipt for 01E000003 is for payload") || strings.Contains(d.Reason, "13800138000") {
		t.Fatalf("dead letters = %+v; want 01E000003 with status %d and the problem, scrubbed", dead, store.StatusBrokenAnswer)
	}
	if st, err := s.Status("01E000003"); err != nil || st.State != store.StateFailed {
		t.Errorf("status of the buried envelope = %+v, %v; want failed", st, err)
	}
	received, sentIn := p.seen()
	if len(received) != 7 {
		t.Errorf("peer answered %d envelopes, want the 7 others", len(received))
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("envelope %s answered %d times, want once: its answer held", id, n)
		}
	}
	if got := sentIn["01E000003"]; len(got) != 2 || got[0] != 8 || got[1] != 1 {
		t.Errorf("the bad envelope went in batches of %v; want 8, then alone", got)
	}
	if st := m.Peers(); len(st) != 1 || st[0].Failures != 0 {
		t.Errorf("peer state %+v; want no failure: the peer answered every other envelope", st)
	}
}

// TestAnAnswerBrokenOnceBuriesNothing: an envelope whose answer broke the
// protocol once, and holds when it is sent again, is delivered.
func TestAnAnswerBrokenOnceBuriesNothing(t *testing.T) {
	s := openOutbox(t)
	p := newGarbling(map[string]int{"01E000001": 1})
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 4)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 0 {
		t.Errorf("dead letters = %+v; want none: the answer broke once", dead)
	}
	if st, err := s.Status("01E000001"); err != nil || st.State != store.StateDelivered {
		t.Errorf("status = %+v, %v; want delivered", st, err)
	}
}

// TestAnAnswerBrokenWithNothingElseAnsweredBuriesNothing: an envelope
// whose answer always breaks the protocol, queued alone, or with others
// whose answers all break it too, is not buried however often it is sent:
// nothing shows the peer taking this node's envelopes. It stays queued,
// and is buried once envelopes queued after it are answered. An answer
// that fails as a whole (not a BrokenAnswerError) buries nothing either.
func TestAnAnswerBrokenWithNothingElseAnsweredBuriesNothing(t *testing.T) {
	tests := []struct {
		name   string
		queued int
		peer   func() Sender
	}{
		{"alone", 1, func() Sender { return newGarbling(map[string]int{"01E000000": -1}) }},
		{"every envelope", 4, func() Sender { p := newGarbling(map[string]int{"01E000000": -1}); p.all = true; return p }},
		{"as a whole", 4, func() Sender {
			return senderFunc(func([]store.Queued) ([]Outcome, error) {
				return nil, errors.New("peer 44: receipt for 01E000000: the signature over its batch root does not verify")
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openOutbox(t)
			p := tt.peer()
			calls := 0
			var mu sync.Mutex
			counting := senderFunc(func(b []store.Queued) ([]Outcome, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				return p.Send(context.Background(), "44", b)
			})
			m := startStrict(t, s, counting, 4)
			enqueue(t, s, 0, tt.queued)
			m.Notify("44")
			gatewaytest.Eventually(t, "a few attempts", func() bool { mu.Lock(); defer mu.Unlock(); return calls >= 6 })
			if dead := deadLetters(t, s); len(dead) != 0 {
				t.Fatalf("dead letters = %+v; want none", dead)
			}
			if d := depth(t, s); d != tt.queued {
				t.Errorf("depth = %d, want %d", d, tt.queued)
			}
			st := m.Peers()
			if len(st) != 1 || st[0].Failures == 0 || !strings.Contains(st[0].LastError, "01E000000") || strings.Contains(st[0].LastError, "13800138000") {
				t.Errorf("peer state %+v; want failures, the last error naming 01E000000 without the number", st)
			}
			if g, ok := p.(*garbling); ok {
				g.mu.Lock()
				g.all = false
				g.mu.Unlock()
				enqueue(t, s, tt.queued, 2)
				m.Notify("44")
				gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
				if dead := deadLetters(t, s); len(dead) != 1 || dead["01E000000"].Status != store.StatusBrokenAnswer {
					t.Errorf("dead letters = %+v; want 01E000000 alone, once the peer answered others", dead)
				}
			}
		})
	}
}

// senderFunc is a Sender of a function.
type senderFunc func(batch []store.Queued) ([]Outcome, error)

func (f senderFunc) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	return f(batch)
}

// TestEveryEnvelopeWhoseAnswerKeepsBreakingIsBuried: with an envelope in
// two whose answer always breaks the protocol, more than a batch of them,
// each is buried and each other delivered.
func TestEveryEnvelopeWhoseAnswerKeepsBreakingIsBuried(t *testing.T) {
	s := openOutbox(t)
	breaks := map[string]int{}
	for i := range 6 {
		breaks[fmt.Sprintf("01E%06d", 2*i)] = -1
	}
	p := newGarbling(breaks)
	cfg := strictConfig(4)
	cfg.MaxBackoff = 20 * time.Millisecond
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 16)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 6 {
		t.Errorf("dead letters = %+v; want the 6 whose answers break", dead)
	}
	if received, _ := p.seen(); len(received) != 10 {
		t.Errorf("peer answered %d envelopes, want the 10 others", len(received))
	}
}

// TestAGarbledAnswerDoesNotStopTheSplitOfARefusedBatch: the peer refuses
// (400) every batch holding a corrupt envelope, and breaks the protocol
// answering another, the oldest, whenever it is sent. The split of the
// refused batch reaches the garbled one alone first: its answer, broken
// with nothing else in it, is the peer answering, not failing, and the
// split goes on to find the corrupt one. Stopped there, it left the same
// oldest batch to be refused and split the same way on every attempt,
// and nothing queued for the peer was ever sent again.
func TestAGarbledAnswerDoesNotStopTheSplitOfARefusedBatch(t *testing.T) {
	s := openOutbox(t)
	garbled := newGarbling(map[string]int{"01E000000": -1})
	p := senderFunc(func(b []store.Queued) ([]Outcome, error) {
		for i, q := range b {
			if q.EnvelopeID == "01E000001" {
				return nil, &answerError{400, fmt.Sprintf("bad batch: envelopes[%d]: invalid character", i)}
			}
		}
		return garbled.Send(context.Background(), "44", b)
	})
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 8)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	dead := deadLetters(t, s)
	if len(dead) != 2 || dead["01E000000"].Status != store.StatusBrokenAnswer || dead["01E000001"].Status != 400 {
		t.Errorf("dead letters = %+v; want 01E000000 (its answer broken) and 01E000001 (refused)", dead)
	}
	if received, _ := garbled.seen(); len(received) != 6 {
		t.Errorf("peer answered %d envelopes, want the 6 others", len(received))
	}
}
