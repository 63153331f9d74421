package delivery

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// caseHolder is a peer that follows a referral case as its import does: an
// update whose update before it (needs) it has not stored is rejected for
// good, as a transition its case cannot take, unless that one was
// deferred earlier in the same request (then it is deferred with it). It
// defers the envelopes in waiting, refuses a whole batch holding one in
// corrupt (400), and keeps the order in which it stored envelopes.
type caseHolder struct {
	mu      sync.Mutex
	needs   map[string]string
	waiting map[string]bool
	corrupt map[string]bool
	stored  []string
	sent    map[string]int
}

func (p *caseHolder) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range batch {
		if p.corrupt[q.EnvelopeID] {
			return nil, &answerError{400, "bad batch"}
		}
	}
	out := receipted(batch)
	deferred := map[string]bool{}
	for i, q := range batch {
		p.sent[q.EnvelopeID]++
		need, ok := p.needs[q.EnvelopeID]
		switch {
		case p.waiting[q.EnvelopeID]:
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Deferred: true, Reasons: []string{"case_unknown"}}
			deferred[q.EnvelopeID] = true
		case ok && deferred[need]:
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Deferred: true, Reasons: []string{"earlier_update_deferred"}}
			deferred[q.EnvelopeID] = true
		case ok && !slices.Contains(p.stored, need):
			out[i] = Outcome{EnvelopeID: q.EnvelopeID, Rejected: true, Reasons: []string{"invalid_case_transition"}}
		case !slices.Contains(p.stored, q.EnvelopeID):
			p.stored = append(p.stored, q.EnvelopeID)
		}
	}
	return out, nil
}

func (p *caseHolder) sends(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[id]
}

func (p *caseHolder) order() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stored)
}

func (p *caseHolder) stopWaiting() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiting = nil
}

// caseKey is the case the tests' updates move.
var caseKey = store.CaseKey("11", "44", "RF-1")

// openCase stores the case the tests' updates move, referred by 44 to 11.
func openCase(t *testing.T, s *store.Store) {
	t.Helper()
	refused, err := s.PutCases(context.Background(), []*store.CaseChange{{Key: caseKey, Apply: func(*store.Case) (*store.Case, error) {
		return &store.Case{Key: caseKey, OpenedBy: "44", OpenedTo: "11", Status: "referred"}, nil
	}}})
	if err != nil || refused != nil {
		t.Fatal(refused, err)
	}
}

// enqueueUpdates queues, in one call, updates of the tests' case from 11
// to 44 under envelope ids, each moving the case as the exchange's do.
func enqueueUpdates(t *testing.T, s *store.Store, ids ...string) {
	t.Helper()
	msgs := make([]store.Outgoing, len(ids))
	for i, id := range ids {
		msgs[i] = store.Outgoing{EnvelopeID: id, Ref: "ref-" + id, Type: "referral_update", Peer: "44", Envelope: []byte(`{}`),
			Case: &store.CaseChange{Key: caseKey, Apply: func(c *store.Case) (*store.Case, error) {
				c.Updates = append(c.Updates, store.CaseUpdate{EnvelopeID: id, From: "11", Status: "step"})
				return c, nil
			}}}
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// TestAnUpdateDoesNotOvertakeTheDeferredUpdateBeforeIt: the peer defers
// an accepted update (its registry was out for a moment); resolved,
// queued behind it, waits for it rather than going in the next batch,
// where the peer would refuse it for good as a move its case, still
// referred there, cannot take. Other envelopes go meanwhile; once the
// peer takes accepted, resolved follows, and both sides' cases agree.
func TestAnUpdateDoesNotOvertakeTheDeferredUpdateBeforeIt(t *testing.T) {
	s := openOutbox(t)
	openCase(t, s)
	accepted, resolved := "01E000000", "01E000001"
	p := &caseHolder{needs: map[string]string{resolved: accepted}, waiting: map[string]bool{accepted: true}, sent: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m := startManager(t, hourConfig(5, &now), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueueUpdates(t, s, accepted)
	m.Notify("44")
	gatewaytest.Eventually(t, "the peer to defer accepted", func() bool { return m.Peers()[0].Deferred == 1 })

	enqueueUpdates(t, s, resolved)
	enqueue(t, s, 2, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the envelope queued with resolved to be delivered", func() bool { return slices.Contains(p.order(), "01E000002") })
	if n := p.sends(resolved); n != 0 {
		t.Errorf("resolved was sent %d times while accepted, deferred, was held back; want none", n)
	}

	p.stopWaiting()
	now.Add(int64(3 * time.Hour))
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if got, want := p.order(), []string{"01E000002", accepted, resolved}; !slices.Equal(got, want) {
		t.Errorf("the peer stored %v, want %v", got, want)
	}
	if st, err := s.Status(resolved); err != nil || st.State != store.StateDelivered {
		t.Errorf("status of resolved: %+v, %v; want delivered", st, err)
	}
}

// TestAnUpdateDoesNotOvertakeItsUpdateInASplitBatch: a batch the peer
// refuses whole is sent again in parts. When the part that holds accepted
// is deferred, resolved is not sent in the next part, apart from it, but
// stays queued; the envelope to blame is buried all the same, and once
// the peer takes accepted, resolved follows.
func TestAnUpdateDoesNotOvertakeItsUpdateInASplitBatch(t *testing.T) {
	s := openOutbox(t)
	openCase(t, s)
	accepted, resolved := "01E000000", "01E000001"
	p := &caseHolder{needs: map[string]string{resolved: accepted}, waiting: map[string]bool{accepted: true}, corrupt: map[string]bool{"01E000002": true}, sent: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg := hourConfig(3, &now)
	cfg.Refusal = readAnswer
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueueUpdates(t, s, accepted, resolved)
	enqueue(t, s, 2, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the corrupt envelope to be buried", func() bool { _, ok := deadLetters(t, s)["01E000002"]; return ok })
	if n := p.sends(resolved); n != 0 {
		t.Errorf("resolved was sent %d times in the parts of a refused batch after accepted was deferred; want none", n)
	}

	p.stopWaiting()
	now.Add(int64(3 * time.Hour))
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if got, want := p.order(), []string{accepted, resolved}; !slices.Equal(got, want) {
		t.Errorf("the peer stored %v, want %v", got, want)
	}
}

// TestInOrderHoldsAChainBehindADeferredUpdate: of updates P, X, Y of one
// case, P deferred by the peer, X waits for P and Y for X, which this
// batch leaves out: sent, Y would overtake X, and the peer would refuse
// it for good.
func TestInOrderHoldsAChainBehindADeferredUpdate(t *testing.T) {
	w := &worker{deferrals: map[string]deferral{"P": {}}}
	batch := []store.Queued{{EnvelopeID: "A"}, {EnvelopeID: "X", After: "P"}, {EnvelopeID: "Y", After: "X"}, {EnvelopeID: "B"}}
	var got []string
	for _, q := range w.inOrder(batch) {
		got = append(got, q.EnvelopeID)
	}
	if !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("inOrder = %v; want [A B], X and Y held behind P", got)
	}
}

// TestSuspectsWaitForTheUpdateBeforeThem: a suspect whose update before it
// is deferred, or a suspect too, is not tried alone until that one is
// answered: suspects go in the order of their ids, and X's may sort before
// P's.
func TestSuspectsWaitForTheUpdateBeforeThem(t *testing.T) {
	w := &worker{suspects: map[string]suspect{
		"P":  {q: store.Queued{EnvelopeID: "P"}},
		"0X": {q: store.Queued{EnvelopeID: "0X", After: "P"}},
		"0Y": {q: store.Queued{EnvelopeID: "0Y", After: "D"}},
		"0Z": {q: store.Queued{EnvelopeID: "0Z"}},
	}, deferrals: map[string]deferral{"D": {}}}
	var got []string
	for _, q := range w.suspectsToTry(nil) {
		got = append(got, q.EnvelopeID)
	}
	if !slices.Equal(got, []string{"0Z", "P"}) {
		t.Errorf("suspects to try = %v; want [0Z P], 0X behind the suspect P and 0Y behind the deferred D", got)
	}
}
