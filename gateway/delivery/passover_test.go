package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// suspectsOf is how many suspects m's worker for 44 holds.
func suspectsOf(m *Manager) int {
	m.mu.Lock()
	w := m.workers["44"]
	m.mu.Unlock()
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	return len(w.suspects)
}

// ids are the envelope ids 01E<from>... of n envelopes, as enqueue names them.
func ids(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("01E%06d", from+i)
	}
	return out
}

// TestCulpritsAtTheHeadWhileSuspectsAreFullDoNotHoldUpTheQueue: a spell of
// refusals leaves a batch of suspects, as many as the worker keeps; then a
// block of envelopes the peer refuses heads the queue, with good ones
// behind. The block's envelopes can become no suspects, yet the good ones
// behind them are delivered, and every envelope the peer refuses alone
// once it has taken others is buried, suspects and block alike.
func TestCulpritsAtTheHeadWhileSuspectsAreFullDoNotHoldUpTheQueue(t *testing.T) {
	for _, tt := range []struct {
		name    string
		corrupt []string // besides the block, 01E000004 to 01E000007
	}{
		{"suspects refused too", ids(0, 4)},
		{"suspects taken", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openOutbox(t)
			p := &strict{always: 400, corrupt: map[string]bool{}, received: map[string]int{}}
			m := startStrict(t, s, p, 4)
			enqueue(t, s, 0, 4)
			m.Notify("44")
			gatewaytest.Eventually(t, "every queued envelope refused alone", func() bool { return suspectsOf(m) == 4 })
			enqueue(t, s, 4, 8)
			culprits := append(ids(4, 4), tt.corrupt...)
			p.set(func(p *strict) {
				p.always = 0
				for _, id := range culprits {
					p.corrupt[id] = true
				}
			})
			m.Notify("44")
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			dead := deadLetters(t, s)
			if got := slices.Sorted(maps.Keys(dead)); !slices.Equal(got, slices.Sorted(slices.Values(culprits))) {
				t.Errorf("dead letters %v, want %v", got, slices.Sorted(slices.Values(culprits)))
			}
			if received, _ := p.seen(); len(received) != 12-len(culprits) {
				t.Errorf("the peer stored %d envelopes, want the %d good ones", len(received), 12-len(culprits))
			}
		})
	}
}

// TestABatchOfGarbledAnswersAtTheHeadDoesNotHoldUpTheQueue: the oldest
// batch's envelopes are all ones whose answers the peer always garbles;
// with nothing in that answer that holds, none becomes a suspect, but the
// good envelopes behind them are delivered all the same, and once the peer
// has answered those the garbled ones are buried.
func TestABatchOfGarbledAnswersAtTheHeadDoesNotHoldUpTheQueue(t *testing.T) {
	s := openOutbox(t)
	p := newGarbling(map[string]int{"01E000000": -1, "01E000001": -1, "01E000002": -1, "01E000003": -1})
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 8)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	dead := deadLetters(t, s)
	if got := slices.Sorted(maps.Keys(dead)); !slices.Equal(got, ids(0, 4)) {
		t.Errorf("dead letters %v, want the 4 garbled", got)
	}
	for _, d := range dead {
		if d.Status != store.StatusBrokenAnswer {
			t.Errorf("dead letter %+v; want status %d", d, store.StatusBrokenAnswer)
		}
	}
	if received, _ := p.seen(); len(received) != 4 {
		t.Errorf("the peer answered %d envelopes, want the 4 others", len(received))
	}
}

// TestALoneGarbledEnvelopeDoesNotHoldUpASuspect: on an idle link, a spell
// of refusals left an envelope a suspect; the only other queued is one
// whose answer the peer always garbles. The suspect is sent, and taken,
// and the garbled one, its answer broken again after that, is buried.
func TestALoneGarbledEnvelopeDoesNotHoldUpASuspect(t *testing.T) {
	s := openOutbox(t)
	garbled := newGarbling(map[string]int{"01E000001": -1})
	spell := &flapping{refusing: true}
	var after atomic.Bool // the spell is over
	p := senderFunc(func(b []store.Queued) ([]Outcome, error) {
		if after.Load() {
			return garbled.Send(context.Background(), "44", b)
		}
		return spell.Send(context.Background(), "44", b)
	})
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the envelope refused alone", func() bool { return suspectsOf(m) == 1 })
	enqueue(t, s, 1, 1)
	after.Store(true)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 1 || dead["01E000001"].Status != store.StatusBrokenAnswer {
		t.Errorf("dead letters %+v, want 01E000001 alone, its answer broken", dead)
	}
	if st, err := s.Status("01E000000"); err != nil || st.State != store.StateDelivered {
		t.Errorf("status of the suspect = %+v, %v; want delivered", st, err)
	}
}

// flapping is a peer that refuses every batch with 400 while refusing is
// set, and takes everything otherwise, but for takes > 0: it takes that
// many requests, then refuses again. It counts its calls.
type flapping struct {
	mu       sync.Mutex
	refusing bool
	takes    int
	calls    int
}

func (p *flapping) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.refusing {
		return nil, &answerError{400, "bad batch: try later"}
	}
	if p.takes > 0 {
		p.takes--
		p.refusing = p.takes == 0
	}
	return receipted(batch), nil
}

// refuse sets whether p refuses everything, and after how many requests
// taken it refuses again, and returns its calls so far.
func (p *flapping) refuse(on bool, takes int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing, p.takes = on, takes
	return p.calls
}

func (p *flapping) called() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// TestAPeerRefusingEverythingWhileTheQueueIsPassedOverBuriesNothing: a
// peer refusing everything long enough for the worker to pass over its
// whole queue, batch by batch, and start again from the oldest, buries
// nothing: once it takes envelopes again, every one is delivered.
func TestAPeerRefusingEverythingWhileTheQueueIsPassedOverBuriesNothing(t *testing.T) {
	s := openOutbox(t)
	p := &flapping{refusing: true}
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 16)
	m.Notify("44")
	// 4 batches of 4 cost at most 4 requests each, the suspects 1.
	gatewaytest.Eventually(t, "the queue passed over more than twice", func() bool { return p.called() >= 50 })
	p.refuse(false, 0)
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 0 {
		t.Errorf("dead letters %v, want none: the peer refused everything", slices.Sorted(maps.Keys(dead)))
	}
}

// TestAPeerRefusingEverythingAgainBuriesABatchAtMost: a peer that refused
// everything while the worker passed over its queue, took one request,
// and refuses everything again has at most a batch buried for the second
// spell (and the suspects, as many), not every envelope passed over in
// the first.
func TestAPeerRefusingEverythingAgainBuriesABatchAtMost(t *testing.T) {
	s := openOutbox(t)
	p := &flapping{refusing: true}
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 32)
	m.Notify("44")
	gatewaytest.Eventually(t, "the queue passed over", func() bool { return p.called() >= 60 })
	calls := p.refuse(false, 1)
	gatewaytest.Eventually(t, "the second spell", func() bool { return p.called() >= calls+60 || depth(t, s) == 0 })
	p.refuse(false, 0)
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) > 8 {
		t.Errorf("%d dead letters %v; want a batch of 4 at most, with the 4 suspects'", len(dead), slices.Sorted(maps.Keys(dead)))
	}
}

// suspectIDs are the envelopes m's worker for 44 holds as suspects.
func suspectIDs(m *Manager) map[string]bool {
	m.mu.Lock()
	w := m.workers["44"]
	m.mu.Unlock()
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	out := map[string]bool{}
	for id := range w.suspects {
		out[id] = true
	}
	return out
}

// spells is a peer that refuses every batch with 400 (a spell of refusing
// everything), but takes the next full batch once told to (take), and
// everything once mended. In the spell after the batch it took, each full
// batch it is sent starts a group, and a group's fifth request waits until
// groups groups have sent theirs: a batch of 4 goes as 4, 2, 1 and 1, so
// every batch in flight has then had two envelopes refused alone, and
// none has yet finished (see passOver).
type spells struct {
	mu      sync.Mutex
	wake    *sync.Cond
	full    int
	groups  int
	take    bool
	taken   bool // the second spell
	mended  bool
	calls   int
	groupOf map[string]int
	sent    []int // requests per group
}

func newSpells(full, groups int) *spells {
	p := &spells{full: full, groups: groups, groupOf: map[string]int{}}
	p.wake = sync.NewCond(&p.mu)
	return p
}

func (p *spells) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	switch {
	case p.mended:
		return receipted(batch), nil
	case p.take && len(batch) == p.full:
		p.take, p.taken = false, true
		return receipted(batch), nil
	case !p.taken:
		return nil, &answerError{400, "bad batch: no agreement"}
	}
	if len(batch) == p.full {
		for _, q := range batch {
			p.groupOf[q.EnvelopeID] = len(p.sent)
		}
		p.sent = append(p.sent, 0)
	}
	if g, ok := p.groupOf[batch[0].EnvelopeID]; ok {
		if p.sent[g]++; p.sent[g] == 5 {
			for !p.mended && p.waiting() {
				p.wake.Wait()
			}
			p.wake.Broadcast()
		}
	}
	return nil, &answerError{400, "bad batch: no agreement"}
}

// waiting tells whether fewer than groups groups have sent a fifth request.
func (p *spells) waiting() bool {
	return len(p.sent) < p.groups || slices.ContainsFunc(p.sent[:p.groups], func(n int) bool { return n < 5 })
}

// set changes p and returns its calls so far.
func (p *spells) set(fn func(p *spells)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
	p.wake.Broadcast()
	return p.calls
}

// TestAPeerRefusingEverythingAgainBuriesABatchAtMostWithBatchesInFlight:
// as TestAPeerRefusingEverythingAgainBuriesABatchAtMost, with InFlight
// batches in flight when the peer refuses everything again: each of them
// was passed over in the first spell, and each is refused alone once the
// peer has taken a batch since; yet the evidence is spent once, on one
// batch, not on every batch that happened to be in flight.
func TestAPeerRefusingEverythingAgainBuriesABatchAtMostWithBatchesInFlight(t *testing.T) {
	const size, inFlight = 4, 4
	s := openOutbox(t)
	p := newSpells(size, inFlight)
	cfg := strictConfig(size)
	cfg.InFlight = inFlight
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { p.set(func(p *spells) { p.mended = true }) }) // before Close, which waits for the batches held
	enqueue(t, s, 0, 40)
	m.Notify("44")
	gatewaytest.Eventually(t, "the queue passed over, with a batch of suspects", func() bool {
		return len(suspectIDs(m)) == size && p.set(func(*spells) {}) >= 200
	})
	suspects := suspectIDs(m)
	p.set(func(p *spells) { p.take = true })
	gatewaytest.Eventually(t, "the batches in flight in the second spell", func() bool {
		waiting := true
		p.set(func(p *spells) { waiting = p.waiting() })
		return !waiting
	})
	p.set(func(p *spells) { p.mended = true })
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	var others []string
	for id := range deadLetters(t, s) {
		if !suspects[id] {
			others = append(others, id)
		}
	}
	if len(others) > size {
		t.Errorf("%d dead letters besides the suspects: %v; want a batch of %d at most", len(others), slices.Sorted(slices.Values(others)), size)
	}
}
