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
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// answerError is a peer's answer other than 200, as peer.AnswerError.
type answerError struct {
	status  int
	message string
}

func (e *answerError) Error() string { return fmt.Sprintf("peer answered %d: %s", e.status, e.message) }

// readAnswer is Config.Refusal for answerError, refusals being 4xx.
func readAnswer(err error) (int, string, bool) {
	var a *answerError
	if errors.As(err, &a) && a.status >= 400 && a.status < 500 {
		return a.status, a.message, true
	}
	return 0, "", false
}

// strict is a peer that refuses a whole batch when one of its envelopes is
// corrupt (400), when the batch's body is over its limit (413), or always
// with a fixed status; it counts what it stored and the batches it saw.
type strict struct {
	mu       sync.Mutex
	corrupt  map[string]bool
	limit    int // bytes of envelopes a batch may carry; 0 is no limit
	always   int // status answered to every batch; 0 is none
	sizes    []int
	received map[string]int
}

func (p *strict) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = append(p.sizes, len(batch))
	if p.always != 0 {
		return nil, &answerError{p.always, "no"}
	}
	body := 0
	for i, q := range batch {
		if p.corrupt[q.EnvelopeID] {
			return nil, &answerError{400, fmt.Sprintf("bad batch: envelopes[%d]: invalid character near 13800138000", i)}
		}
		body += len(q.Envelope)
	}
	if p.limit > 0 && body > p.limit {
		return nil, &answerError{413, fmt.Sprintf("bad batch: body over %d bytes", p.limit)}
	}
	for _, q := range batch {
		p.received[q.EnvelopeID]++
	}
	return receipted(batch), nil
}

func (p *strict) set(fn func(p *strict)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func (p *strict) seen() (received map[string]int, sizes []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.received), append([]int(nil), p.sizes...)
}

// strictConfig is testConfig for a peer's refusals, read by readAnswer, with
// one batch in flight of at most batchSize envelopes.
func strictConfig(batchSize int) Config {
	cfg := testConfig()
	cfg.BatchSize, cfg.InFlight, cfg.Refusal = batchSize, 1, readAnswer
	return cfg
}

// startStrict runs a manager whose peer 44 is p, refusals read by readAnswer.
func startStrict(t *testing.T, s *store.Store, p Sender, batchSize int) *Manager {
	t.Helper()
	return startManager(t, strictConfig(batchSize), s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// startManager runs a manager with cfg that logs to log, closed with the test.
func startManager(t *testing.T, cfg Config, o Outbox, p Sender, log *slog.Logger) *Manager {
	t.Helper()
	m, err := NewManager(cfg, o, p, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// enqueueSized queues envelopes 01E<from>... for 44 whose bytes are size long.
func enqueueSized(t *testing.T, s *store.Store, from, n, size int) {
	t.Helper()
	var msgs []store.Outgoing
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("01E%06d", i)
		msgs = append(msgs, store.Outgoing{EnvelopeID: id, Ref: "ref-" + id, Type: "transfer", Peer: "44", Envelope: []byte(`{"p":"` + strings.Repeat("x", size-8) + `"}`)})
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// deadLetters reads the store's dead letters for 44 by envelope id.
func deadLetters(t *testing.T, s *store.Store) map[string]store.DeadLetter {
	t.Helper()
	ds, err := s.DeadLetters("44")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DeadLetter{}
	for _, d := range ds {
		out[d.EnvelopeID] = d
	}
	return out
}

// TestARefusedEnvelopeIsDeadLetteredAndTheRestGo: the peer answers 400 to
// every batch holding a corrupt envelope; the batches are split until the
// corrupt ones are alone, those become dead letters with their records
// failed, and every other envelope is delivered once. Requeued once the
// peer takes them, they are delivered too.
func TestARefusedEnvelopeIsDeadLetteredAndTheRestGo(t *testing.T) {
	s := openOutbox(t)
	p := &strict{corrupt: map[string]bool{"01E000005": true, "01E000012": true}, received: map[string]int{}}
	m := startStrict(t, s, p, 7)
	enqueue(t, s, 0, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	dead := deadLetters(t, s)
	if len(dead) != 2 {
		t.Fatalf("dead letters = %+v, want 01E000005 and 01E000012", dead)
	}
	for id := range p.corrupt {
		d := dead[id]
		if d.Status != 400 || !strings.HasPrefix(d.Reason, "bad batch: envelopes[0]: invalid character") || strings.Contains(d.Reason, "13800138000") {
			t.Errorf("dead letter %s = %+v: want the peer's 400 and its text, without the number", id, d)
		}
		st, err := s.Status(id)
		if err != nil || st.State != store.StateFailed || len(st.Reasons) != 1 || !strings.Contains(st.Reasons[0], "400 Bad Request") {
			t.Errorf("status of %s = %+v, %v; want failed with the refusal", id, st, err)
		}
	}
	if got := s.DeadLetterCounts(); !maps.Equal(got, map[string]int{"44": 2}) {
		t.Errorf("dead letter counts = %v", got)
	}
	received, _ := p.seen()
	if len(received) != 18 {
		t.Errorf("peer stored %d envelopes, want the 18 good ones", len(received))
	}
	for id, n := range received {
		if n != 1 {
			t.Errorf("envelope %s stored %d times", id, n)
		}
	}

	p.set(func(p *strict) { clear(p.corrupt) }) // the peer is fixed
	if n, err := s.Requeue(context.Background(), "44", store.DeadPick{Through: store.EveryBurial}); err != nil || n != 2 {
		t.Fatalf("requeue = %d, %v", n, err)
	}
	m.Notify("44")
	gatewaytest.Eventually(t, "the requeued envelopes to be delivered", func() bool { return depth(t, s) == 0 })
	for id := range dead {
		if st, _ := s.Status(id); st.State != store.StateDelivered {
			t.Errorf("requeued %s is %s, want delivered", id, st.State)
		}
	}
	if got := s.DeadLetterCounts(); len(got) != 0 {
		t.Errorf("dead letters left after requeue: %v", got)
	}
}

// TestA413HalvesTheBatch: a peer whose body limit is below a full batch
// answers 413; the batch is halved, the batch size stays lowered, and an
// envelope over the limit on its own is dead-lettered.
func TestA413HalvesTheBatch(t *testing.T) {
	s := openOutbox(t)
	p := &strict{limit: 100, received: map[string]int{}}
	m := startStrict(t, s, p, 8)
	enqueueSized(t, s, 0, 5, 20)
	enqueueSized(t, s, 5, 1, 150) // over the limit alone
	enqueueSized(t, s, 6, 20, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	dead := deadLetters(t, s)
	if d, ok := dead["01E000005"]; len(dead) != 1 || !ok || d.Status != 413 {
		t.Errorf("dead letters = %+v, want 01E000005 refused with 413", dead)
	}
	received, sizes := p.seen()
	if len(received) != 25 {
		t.Errorf("peer stored %d envelopes, want 25", len(received))
	}
	m.mu.Lock()
	w := m.workers["44"]
	m.mu.Unlock()
	if got := w.sizing.Current(); got != 4 {
		t.Errorf("batch size after 413 = %d, want 4 (half of 8)", got)
	}
	if st := m.Peers(); len(st) != 1 || st[0].BatchSize != 4 {
		t.Errorf("peer state = %+v, want batch size 4 shown", st)
	}
	if last := sizes[len(sizes)-1]; last > 4 {
		t.Errorf("batches sent %v: the last holds %d envelopes, over the lowered size 4", sizes, last)
	}
}

// TestARefusalOfEverythingBuriesNothing: a peer that refuses each envelope
// even alone refuses this node, not the envelopes; and one that refuses
// the caller (403) refuses every part of a batch alike, so the batch is not
// split. Either way the envelopes stay queued and nothing is dead-lettered.
func TestARefusalOfEverythingBuriesNothing(t *testing.T) {
	tests := []struct {
		status    int
		split     bool
		lastError string
	}{
		{400, true, "may refuse this node"},
		{403, false, "answered 403"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s := openOutbox(t)
			p := &strict{always: tt.status, received: map[string]int{}}
			m := startStrict(t, s, p, 4)
			enqueue(t, s, 0, 4)
			m.Notify("44")
			gatewaytest.Eventually(t, "a few attempts", func() bool { _, sizes := p.seen(); return len(sizes) >= 10 })
			if got := s.DeadLetterCounts(); len(got) != 0 {
				t.Errorf("dead letters = %v, want none", got)
			}
			if d := depth(t, s); d != 4 {
				t.Errorf("depth = %d, want 4", d)
			}
			_, sizes := p.seen()
			if split := strings.Contains(fmt.Sprint(sizes), "1"); split != tt.split {
				t.Errorf("batch sizes sent %v; split = %v, want %v", sizes, split, tt.split)
			}
			if st := m.Peers(); len(st) != 1 || !strings.Contains(st[0].LastError, tt.lastError) || st[0].BatchSize != 4 {
				t.Errorf("peer state = %+v, want last error mentioning %q and the batch size unchanged", st, tt.lastError)
			}
		})
	}
}

// unreadable sends every batch but refuses to send an envelope it cannot
// read, as the batch signer does with one whose stored bytes are broken.
type unreadable struct {
	bad  string
	sent sync.Map
}

func (p *unreadable) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	for _, q := range batch {
		if q.EnvelopeID == p.bad {
			return nil, &UnsendableError{EnvelopeID: q.EnvelopeID, Err: errors.New("not an unsigned envelope object")}
		}
	}
	for _, q := range batch {
		p.sent.Store(q.EnvelopeID, true)
	}
	return receipted(batch), nil
}

// TestAnUnsendableEnvelopeIsDeadLettered: an envelope that cannot be read to
// be sent is dead-lettered without a peer status, and its batch goes on.
func TestAnUnsendableEnvelopeIsDeadLettered(t *testing.T) {
	s := openOutbox(t)
	p := &unreadable{bad: "01E000002"}
	m := startStrict(t, s, p, 5)
	enqueue(t, s, 0, 5)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	dead := deadLetters(t, s)
	if d, ok := dead["01E000002"]; len(dead) != 1 || !ok || d.Status != 0 || d.Reason != "not an unsigned envelope object" {
		t.Errorf("dead letters = %+v", dead)
	}
	if st, _ := s.Status("01E000002"); st.State != store.StateFailed || !strings.Contains(st.Reasons[0], "could not be sent") {
		t.Errorf("status = %+v", st)
	}
	n := 0
	p.sent.Range(func(any, any) bool { n++; return true })
	if n != 4 {
		t.Errorf("sent %d envelopes, want the other 4", n)
	}
}

func TestScrubKeepsNoNumbersOrNames(t *testing.T) {
	for in, want := range map[string]string{
		"bad batch: envelopes[3]: invalid character 'x'":        "bad batch: envelopes[3]: invalid character 'x'",
		"json: cannot unmarshal number 110101199003077777 into": "json: cannot unmarshal number # into",
		"phone 13800138000": "phone #",
		"phone 138-0013-8000 or 138 0013 8000, id 110101 19900307 777X": "phone # or #, id #X",
		"at 2026-12-06, batch 100 of 3.5 MB":                            "at 2026-12-06, batch 100 of 3.5 MB",
		"name 张三 not allowed":                                           "name ?? not allowed",
		"dial tcp 192.168.100.200:8443: connection refused":             "dial tcp 192.168.100.200:8443: connection refused",
		"phone 138.0013.8000, or 110.101.199.003.077":                   "phone #, or #",
		strings.Repeat("a", 400):                                        strings.Repeat("a", 297) + "...",
	} {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestALoweredBatchSizeIsTriedAgain: after the hold, twice the lowered
// size, here a full batch, is sent again, so one oversized envelope does
// not slow the link for good. The
// hold is measured by a clock the test moves: on a loaded machine a short
// real one could end before the test looks at the lowered size.
func TestALoweredBatchSizeIsTriedAgain(t *testing.T) {
	s := openOutbox(t)
	p := &strict{limit: 100, received: map[string]int{}}
	var now atomic.Int64
	now.Store(time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC).UnixNano())
	cfg := strictConfig(8)
	cfg.ShrinkHold = time.Minute
	cfg.Now = func() time.Time { return time.Unix(0, now.Load()) }
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueueSized(t, s, 0, 8, 20) // 160 bytes: over the limit as a full batch
	m.Notify("44")
	// The size is lowered once the split found no envelope too large
	// alone, after the halves were delivered.
	gatewaytest.Eventually(t, "the batch size to be lowered to 4", func() bool { return m.Peers()[0].BatchSize == 4 })
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })

	p.set(func(p *strict) { p.limit = 0 }) // the peer raised its limit
	now.Add(int64(59 * time.Second))
	enqueueSized(t, s, 8, 8, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	if _, sizes := p.seen(); sizes[len(sizes)-1] != 4 {
		t.Errorf("batches sent %v: within the hold the last holds %d envelopes, want 4", sizes, sizes[len(sizes)-1])
	}

	now.Add(int64(time.Second))
	enqueueSized(t, s, 16, 8, 20)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
	_, sizes := p.seen()
	if last := sizes[len(sizes)-1]; last != 8 {
		t.Errorf("batches sent %v: after the hold the last holds %d envelopes, want a full 8", sizes, last)
	}
	if st := m.Peers(); st[0].BatchSize != 8 {
		t.Errorf("batch size after the hold = %d, want 8", st[0].BatchSize)
	}
}

// TestARefusalKeptUnburiedIsScrubbed: when the peer refuses the only
// envelope queued, sent alone, nothing is buried and the refusal is the
// worker's last error, which the status page shows and the log prints; the
// peer's text is scrubbed there as in a dead letter, since it may quote a
// number from the envelope.
func TestARefusalKeptUnburiedIsScrubbed(t *testing.T) {
	s := openOutbox(t)
	p := &strict{corrupt: map[string]bool{"01E000000": true}, received: map[string]int{}}
	logged := &gatewaytest.Buffer{}
	m := startManager(t, strictConfig(4), s, p, slog.New(slog.NewTextHandler(logged, nil)))
	enqueue(t, s, 0, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the refusal to be the last error", func() bool {
		st := m.Peers()
		return len(st) == 1 && strings.Contains(st[0].LastError, "invalid character")
	})
	if st := m.Peers(); strings.Contains(st[0].LastError, "13800138000") {
		t.Errorf("last error quotes the number the peer quoted: %s", st[0].LastError)
	}
	if strings.Contains(logged.String(), "13800138000") {
		t.Errorf("log quotes the number the peer quoted:\n%s", logged.String())
	}
}

// quoting is a peer whose every answer is an error quoting a number, as a
// proxy's or an older peer's error page might.
type quoting struct{}

func (quoting) Send(context.Context, string, []store.Queued) ([]Outcome, error) {
	return nil, errors.New("502 from proxy: upstream said worker phone 138 0013 8000 is unreachable")
}

// TestAFailureIsMaskedWhereShown: any delivery error, not only a refusal,
// is the status page's last error and the log's, so a number in the
// peer's text is masked there, and the text is not cut.
func TestAFailureIsMaskedWhereShown(t *testing.T) {
	s := openOutbox(t)
	logged := &gatewaytest.Buffer{}
	m := startManager(t, strictConfig(4), s, quoting{}, slog.New(slog.NewTextHandler(logged, nil)))
	enqueue(t, s, 0, 1)
	m.Notify("44")
	gatewaytest.Eventually(t, "the failure to be the last error", func() bool {
		st := m.Peers()
		return len(st) == 1 && strings.Contains(st[0].LastError, "is unreachable")
	})
	if st := m.Peers(); strings.Contains(st[0].LastError, "8000") {
		t.Errorf("last error quotes the number the peer quoted: %s", st[0].LastError)
	}
	if strings.Contains(logged.String(), "8000") || !strings.Contains(logged.String(), "delivery failing") {
		t.Errorf("log quotes the number the peer quoted, or says nothing of the failure:\n%s", logged.String())
	}
}

// blinking is a peer that refuses every batch with 400 for a few calls, as
// one in a rolling upgrade might, or the proxy in front of it, and takes
// everything before and after.
type blinking struct {
	mu       sync.Mutex
	calls    int
	from, to int // the calls refused, counted from 1
}

func (p *blinking) Send(_ context.Context, _ string, batch []store.Queued) ([]Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls >= p.from && p.calls <= p.to {
		return nil, &answerError{400, "bad batch: try later"}
	}
	return receipted(batch), nil
}

// TestAPeerRefusingEverythingForAMomentBuriesNothing: envelopes the peer
// refused alone while it refused everything are not to blame, though it
// answers others of the same batch once it is back, or answered some
// before it began refusing; they stay queued and are delivered.
func TestAPeerRefusingEverythingForAMomentBuriesNothing(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
	}{
		// 8, 4, 2, then 01E000000 and 01E000001 alone are refused.
		{"from the first batch", 1, 5},
		// The first batch is taken; 8 more are refused down to
		// 01E000008 and 01E000009 alone.
		{"after taking a batch", 2, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openOutbox(t)
			p := &blinking{from: tt.from, to: tt.to}
			m := startStrict(t, s, p, 8)
			enqueue(t, s, 0, 16)
			m.Notify("44")
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			if dead := deadLetters(t, s); len(dead) != 0 {
				t.Errorf("dead letters = %v, want none: the peer refused everything for a moment", dead)
			}
		})
	}
}

// TestAPeerRefusingEverythingCostsFewRequests: a batch refused down to one
// envelope alone, with nothing answered, is not split further: each other
// half is probed with one envelope, not sent down to every envelope alone,
// so an attempt at a batch of 64 costs 13 requests, not 127.
func TestAPeerRefusingEverythingCostsFewRequests(t *testing.T) {
	s := openOutbox(t)
	p := &strict{always: 400, received: map[string]int{}}
	cfg := strictConfig(64)
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour // one attempt
	m := startManager(t, cfg, s, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	enqueue(t, s, 0, 64)
	m.Notify("44")
	gatewaytest.Eventually(t, "the attempt to fail", func() bool {
		st := m.Peers()
		return len(st) == 1 && st[0].Failures > 0
	})
	// 64, 32, 16, 8, 4, 2 and 1, and one envelope of each other half.
	if _, sizes := p.seen(); len(sizes) > 13 {
		t.Errorf("%d requests for one attempt at a batch of 64 (%v), want at most 13", len(sizes), sizes)
	}
	if d := depth(t, s); d != 64 {
		t.Errorf("outbox holds %d envelopes, want all 64", d)
	}
}

// TestAnEnvelopeTooLargeAloneKeepsTheBatchSize: a 413 that one envelope too
// large alone accounts for does not lower the batch size for ShrinkHold,
// whether it came to a partial batch (light traffic) or to a full one; the
// envelope is dead-lettered and the others go.
func TestAnEnvelopeTooLargeAloneKeepsTheBatchSize(t *testing.T) {
	tests := []struct {
		name      string
		batchSize int
		sizes     []int // of the envelopes queued, 01E000000 on
	}{
		{"in a partial batch", 500, []int{20, 150, 20}},
		{"in a full batch", 4, []int{20, 150, 20, 20, 20, 20, 20, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openOutbox(t)
			p := &strict{limit: 100, received: map[string]int{}}
			m := startStrict(t, s, p, tt.batchSize)
			for i, size := range tt.sizes {
				enqueueSized(t, s, i, 1, size)
			}
			m.Notify("44")
			gatewaytest.Eventually(t, "the outbox to drain", func() bool { return depth(t, s) == 0 })
			if st := m.Peers(); st[0].BatchSize != tt.batchSize {
				t.Errorf("batch size = %d, want %d kept: one envelope was too large alone", st[0].BatchSize, tt.batchSize)
			}
			if dead := deadLetters(t, s); len(dead) != 1 || dead["01E000001"].Status != 413 {
				t.Errorf("dead letters = %+v, want 01E000001 refused with 413", dead)
			}
			if received, _ := p.seen(); len(received) != len(tt.sizes)-1 {
				t.Errorf("peer stored %d envelopes, want %d", len(received), len(tt.sizes)-1)
			}
		})
	}
}

// TestAQueueHeadedBySuspectsStillSendsTheOthers: after a spell of refusing
// everything, the oldest envelopes are all suspects and the first of them
// is truly bad. Suspects are kept out of batches, so the envelopes queued
// behind them go, and their answers convict the bad one, which is buried,
// while the others refused only during the spell are delivered.
func TestAQueueHeadedBySuspectsStillSendsTheOthers(t *testing.T) {
	s := openOutbox(t)
	p := &strict{always: 400, corrupt: map[string]bool{"01E000000": true}, received: map[string]int{}}
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 4)
	m.Notify("44")
	gatewaytest.Eventually(t, "every queued envelope refused alone", func() bool {
		m.mu.Lock()
		w := m.workers["44"]
		m.mu.Unlock()
		w.suspectMu.Lock()
		defer w.suspectMu.Unlock()
		return len(w.suspects) == 4
	})
	p.set(func(p *strict) { p.always = 0 })
	enqueue(t, s, 4, 4)
	m.Notify("44")
	gatewaytest.Eventually(t, "the queue to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 1 || dead["01E000000"].EnvelopeID == "" {
		t.Errorf("dead letters %v, want the bad envelope alone", dead)
	}
	if received, _ := p.seen(); len(received) != 7 {
		t.Errorf("the peer stored %d envelopes, want the 7 good ones", len(received))
	}
}

// TestAnEnvelopeRefusedAloneAfterOthersWereTakenIsBuried: a bad envelope
// last in its batch is refused alone once the peer has taken the others of
// the same batch: that is evidence enough, and it is buried at once rather
// than held while nothing else is queued.
func TestAnEnvelopeRefusedAloneAfterOthersWereTakenIsBuried(t *testing.T) {
	s := openOutbox(t)
	p := &strict{corrupt: map[string]bool{"01E000003": true}, received: map[string]int{}}
	m := startStrict(t, s, p, 4)
	enqueue(t, s, 0, 4)
	m.Notify("44")
	gatewaytest.Eventually(t, "the queue to drain", func() bool { return depth(t, s) == 0 })
	if dead := deadLetters(t, s); len(dead) != 1 || dead["01E000003"].EnvelopeID == "" {
		t.Errorf("dead letters %v, want the bad envelope alone", dead)
	}
	if st := m.Peers(); len(st) != 1 || st[0].Failures != 0 {
		t.Errorf("peer state %+v, want no failure: the peer took every other envelope", st)
	}
}
