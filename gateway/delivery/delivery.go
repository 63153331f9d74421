// Package delivery moves accepted envelopes from a node's durable outbox to
// the peer provinces: one worker per peer, batching what is queued and
// keeping a few batches in flight (Config.InFlight), retrying
// with exponential backoff and jitter, and never dropping anything. An
// envelope the peer deferred waits for its own backoff while the rest of
// the queue goes on: a peer that answers is healthy; one it keeps
// deferring past Config.MaxDeferral is buried (see deferral.go). The
// circuit breaker that stops a worker from hammering a dead peer lives in the
// peer client's endpoint (see package peer); the worker sees it as an error
// like any other transport failure and backs off.
//
// An envelope that can never be sent must not block its peer's queue: a
// batch the peer refuses as a whole (Config.Refusal) is split in halves
// until the envelopes to blame are found, alone. One refused alone once
// the peer has answered others, in the same attempt or since it refused it
// alone before, is moved out of the outbox into the store's dead letters,
// where operators see it and requeue it once the cause is fixed (or
// discard it, when the peer will never take it). One
// refused alone before any answer (the peer may be refusing everything
// for a moment) is a suspect: kept queued, out of batches so that it never
// holds up the envelopes behind it, and sent alone after them (see
// dead.go). So is one whose answer breaks the protocol (a receipt that is
// no proof of what the peer says of it) in an answer whose others hold:
// those are delivered, and it is buried when its answer breaks the
// protocol again once the peer has answered others (see broken.go). A
// batch the peer takes none of, refusing each envelope or breaking the
// protocol in each answer, is passed over: the batches that follow start
// behind it, so that however many envelopes head the queue that the peer
// will never take, those behind them go, and once the peer has taken some
// the envelopes passed over are tried again, each buried if the peer
// fails it again (see passOver).
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/batchsize"
	"github.com/laborlink/laborlink/gateway/store"
)

// Outcome is the destination's answer for one envelope of a batch.
type Outcome struct {
	EnvelopeID string
	// Receipt is the destination's signed receipt, stored as delivered proof.
	Receipt []byte
	// Rejected is true when the destination refused the envelope for a reason
	// that retrying cannot change (import policy, signature); Reasons say why.
	Rejected bool
	// Deferred is true when the destination could not decide now; the
	// envelope stays queued and is retried after its own backoff, while
	// the rest of the queue goes on (see hold).
	Deferred bool
	Reasons  []string
	// PayloadDigest is what the receipt says arrived, read when the sender
	// verified it, for the audit entry.
	PayloadDigest string
}

// Sender sends one batch to a peer province and returns an outcome per
// envelope. An error means the batch as a whole did not get through
// (transport fault, peer down, breaker open) and will be retried, but for
// an *UnsendableError, which names an envelope that cannot be sent, and a
// *BrokenAnswerError, which carries the outcomes of the envelopes whose
// answers hold and names the others.
// Implementations must be safe for concurrent use by different peers.
type Sender interface {
	Send(ctx context.Context, peer string, batch []store.Queued) ([]Outcome, error)
}

// ProofSender is a Sender that can also add each envelope's batch proof as
// it writes the request, sparing a copy of every envelope: proofs[i], when
// not nil, is batch[i]'s (queued unsigned, signed with its batch). An
// envelope that cannot take its proof is an *UnsendableError, returned
// before anything is sent, as Send would return it for an envelope it
// cannot send. A batch-signing sender finds it on the sender it wraps by
// type assertion. chain is the certificate chain (DER, leaf first) of the
// key that signed the proofs, sent with them: read once with the key, it
// cannot be a newer certificate's should the node's rotate in between.
type ProofSender interface {
	Sender
	SendWithProofs(ctx context.Context, peer string, batch []store.Queued, proofs []*contracts.BatchProof, chain [][]byte) ([]Outcome, error)
}

// Outbox is the part of the store the workers use.
type Outbox interface {
	Pending(peer string, limit int, skip func(envelopeID string) bool) ([]store.Queued, error)
	// PendingFull is Pending when limit envelopes are there to take, and
	// nothing otherwise.
	PendingFull(peer string, limit int, skip func(envelopeID string) bool) ([]store.Queued, error)
	MarkDelivered(ctx context.Context, peer string, ds []store.Delivered) error
	// MarkDead moves envelopes delivery gave up on into the dead letters.
	MarkDead(ctx context.Context, peer string, ds []store.DeadLetter) error
	// MarkDeferred records that the peer deferred the queued envelopes
	// ids at at, those it had not deferred before, and returns when it
	// first deferred each (zero for one no longer queued). The record
	// goes with the envelope when MarkDelivered or MarkDead takes it out
	// of the queue.
	MarkDeferred(ctx context.Context, peer string, ids []string, at time.Time) ([]time.Time, error)
}

// Observer hears about deliveries, for metrics and the audit log. Its methods
// are called from the workers' goroutines and must not block.
type Observer interface {
	Delivered(peer string, outcomes []Outcome, batch []store.Queued, latency time.Duration)
	Failed(peer string, err error)
}

// Config tunes the workers.
type Config struct {
	// BatchSize is the most envelopes sent in one request. Default
	// DefaultBatchSize.
	BatchSize int
	// MinBackoff is the first wait after a failed batch. Default 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between retries. Default 30s.
	MaxBackoff time.Duration
	// Idle is how often an idle worker looks at its queue even without a
	// notification, as a safety net. Default 5s.
	Idle time.Duration
	// InFlight is how many batches a worker keeps in flight to its peer at
	// once, so the peer's verification and fsync of one batch overlap with
	// the next instead of the link idling between them. 0 means
	// DefaultInFlight.
	InFlight int
	// Refusal reads a Sender's error as the peer's refusal of the batch
	// itself, with the peer's HTTP status and error text: up and
	// answering, it refused what was sent (a 4xx other than 408 and 429).
	// Such a batch is split to find the envelopes to blame, which become
	// dead letters. nil: no error is a refusal, every failed batch is
	// retried whole.
	Refusal func(err error) (status int, message string, ok bool)
	// TimedOut reads a Sender's error as the peer not answering a batch
	// within the sender's timeout once it had a connection to it: a batch
	// too large for the link, or for the peer, to take in that time. The
	// batches that follow carry at most half the size the batch was taken
	// at, down to one, as after a 413 (see ShrinkHold), however few
	// envelopes it carried: a few timing out say the peer is slow more
	// than that batches are too large (see slow). A timeout on one
	// envelope alone lowers nothing. The batch itself is retried like any
	// failed one, and the peer, should it have stored it, answers its
	// envelopes as duplicates. nil: no error is a timeout, and a batch
	// that times out is retried whole.
	TimedOut func(err error) bool
	// ShrinkHold is how long a batch size lowered after the peer answered
	// 413 to a full batch, or timed out on a batch (TimedOut), holds
	// before the worker tries twice as many, and twice again after each
	// full batch the peer answers, up to BatchSize, so that a peer's
	// limit lowered or a link slowed for a while does not slow the link
	// until the node restarts; a peer whose limit is still lower, or a
	// link still as slow, costs one 413 or timeout per hold, which lowers
	// the size again. A 413 that one envelope too large alone accounts
	// for lowers nothing. 0 means DefaultShrinkHold.
	ShrinkHold time.Duration
	// MaxDeferral is how long the peer may keep deferring an envelope
	// (see hold) before it is buried as a dead letter, naming the peer's
	// last reason: a peer that will never decide on it (an answer to a
	// referral that ended there as a discarded dead letter) would
	// otherwise keep it queued for ever, where operators can neither
	// requeue nor discard it. It is measured from the envelope's first
	// deferral while queued, outages included, which the outbox keeps
	// across restarts. 0 means DefaultMaxDeferral; otherwise at
	// least MaxBackoff, so that a deferred envelope is tried again before
	// it is buried.
	MaxDeferral time.Duration
	// Now is the clock ShrinkHold, deferrals' holds and MaxDeferral are
	// measured by; nil is time.Now. Tests set it so that a slow machine
	// does not end the hold before they look.
	Now func() time.Time
}

// DefaultMaxDeferral is how long a peer may keep deferring an envelope
// when Config leaves MaxDeferral 0: long enough for a referral held up
// by a peer's outage over a weekend to arrive, short enough for an
// operator to see within the week what never will.
const DefaultMaxDeferral = 72 * time.Hour

// DefaultShrinkHold is how long a lowered batch size holds when Config
// leaves ShrinkHold 0.
const DefaultShrinkHold = 10 * time.Minute

// DefaultInFlight is the batches in flight per peer when Config leaves it 0.
const DefaultInFlight = 4

// DefaultBatchSize is the most envelopes per request by default. A worker
// sends what is queued, so the size only matters under a backlog, and there
// a commit on each side and a signature serve the whole batch: 500 against
// 100 cut the CPU per record of batched load by about a sixth
// (docs/performance.md, "On an Intel Xeon VM").
const DefaultBatchSize = 500

// DefaultConfig returns the settings for links between provinces.
func DefaultConfig() Config {
	return Config{BatchSize: DefaultBatchSize, MinBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second, Idle: 5 * time.Second, InFlight: DefaultInFlight}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.BatchSize < 1 || c.BatchSize > contracts.MaxDeliveryBatch:
		return fmt.Errorf("delivery.batch_size is %d; it must be between 1 and %d", c.BatchSize, contracts.MaxDeliveryBatch)
	case c.MinBackoff <= 0:
		return fmt.Errorf("delivery.min_backoff must be positive")
	case c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("delivery.max_backoff (%s) is below delivery.min_backoff (%s)", c.MaxBackoff, c.MinBackoff)
	case c.Idle <= 0:
		return fmt.Errorf("delivery.idle must be positive")
	case c.ShrinkHold < 0:
		return fmt.Errorf("delivery.shrink_hold must not be negative")
	case c.MaxDeferral < 0:
		return fmt.Errorf("delivery.max_deferral must not be negative (0 means %s)", DefaultMaxDeferral)
	case c.MaxDeferral > 0 && c.MaxDeferral < c.MaxBackoff:
		return fmt.Errorf("delivery.max_deferral (%s) is below delivery.max_backoff (%s): a deferred envelope could be buried before it is tried again", c.MaxDeferral, c.MaxBackoff)
	case c.InFlight < 0 || c.InFlight > 64:
		return fmt.Errorf("delivery.in_flight is %d; it must be between 1 and 64 (0 means %d)", c.InFlight, DefaultInFlight)
	}
	return nil
}

// Manager runs one worker per peer province.
type Manager struct {
	cfg    Config
	outbox Outbox
	sender Sender
	obs    Observer
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	// sending is the context of the requests to peers, which Close lets
	// finish: CloseWithin cuts them (cut) once its time is up.
	sending context.Context
	cut     context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*worker
}

// NewManager returns a manager; call Notify for each peer with queued work
// (and once per known peer at start, to resume what a restart left queued).
func NewManager(cfg Config, outbox Outbox, sender Sender, obs Observer, log *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = DefaultInFlight
	}
	if cfg.ShrinkHold == 0 {
		cfg.ShrinkHold = DefaultShrinkHold
	}
	if cfg.MaxDeferral == 0 {
		cfg.MaxDeferral = DefaultMaxDeferral
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	sending, cut := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, outbox: outbox, sender: sender, obs: obs, log: log, ctx: ctx, cancel: cancel, sending: sending, cut: cut, workers: make(map[string]*worker)}, nil
}

// Notify tells the peer's worker that its queue grew, starting the worker if
// it is not running yet.
func (m *Manager) Notify(peer string) {
	m.mu.Lock()
	w, ok := m.workers[peer]
	if !ok {
		if m.ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		w = &worker{peer: peer, m: m, wake: make(chan struct{}, 1), state: PeerState{Peer: peer},
			sizing: batchsize.New(m.cfg.BatchSize, m.cfg.ShrinkHold, m.cfg.Now)}
		m.workers[peer] = w
		m.wg.Go(w.run)
	}
	m.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stops the workers after the requests in flight finish; what is
// still queued, a refused batch's parts not yet sent included, stays in
// the outbox for the next start.
func (m *Manager) Close() {
	m.stop()
	m.wg.Wait()
	m.cut()
}

// CloseWithin is Close, but gives the requests in flight d to finish, and
// then cuts them: a peer that stopped answering without closing its
// connections (a network partition) would otherwise hold a node's shutdown
// for the request's whole timeout, past the stop timeout of the service
// manager, which then kills the node before it has closed its registry
// and store. The envelopes of a request cut stay queued, and go again at
// the next start, which the peer, if it stored them, answers as
// duplicates with the receipts it signed.
func (m *Manager) CloseWithin(d time.Duration) {
	t := time.AfterFunc(d, m.cut)
	defer t.Stop()
	m.Close()
}

// stop starts no more batches. Under mu, so that a concurrent Notify
// either starts its worker before Close waits, which then waits for it,
// or sees the end and starts none.
func (m *Manager) stop() {
	m.mu.Lock()
	m.cancel()
	m.mu.Unlock()
}

// PeerState is a worker's view of its peer, for status pages.
type PeerState struct {
	Peer        string    `json:"peer"`
	Failures    int       `json:"consecutive_failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// BatchSize is the most envelopes the worker sends the peer per
	// request now: Config.BatchSize, or less for a while (Config.ShrinkHold)
	// after the peer answered 413 or timed out, then growing back.
	BatchSize int `json:"batch_size"`
	// Deferred is how many envelopes the peer deferred wait for their own
	// retry, out of the batches the rest of the queue goes in. A peer
	// that defers is healthy: deferrals are no failures.
	Deferred int `json:"deferred,omitempty"`
	// LastDeferral is the peer's latest deferral and its reasons, while
	// envelopes it deferred wait.
	LastDeferral string `json:"last_deferral,omitempty"`
}

// Peers reports each worker's state.
func (m *Manager) Peers() []PeerState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PeerState, 0, len(m.workers))
	for _, w := range m.workers {
		w.mu.Lock()
		st := w.state
		w.mu.Unlock()
		st.BatchSize = w.sizing.Current()
		st.Deferred = w.deferredCount()
		if st.Deferred == 0 {
			st.LastDeferral = ""
		}
		out = append(out, st)
	}
	return out
}

type worker struct {
	peer string
	m    *Manager
	wake chan struct{}
	// sizing is the most envelopes per batch now: Config.BatchSize, or
	// less for a while after the peer answered 413 or timed out (see
	// shrink).
	sizing *batchsize.Size
	// answers counts the envelopes the peer has answered since the worker
	// started, and suspects holds the envelopes it refused alone, each
	// with answers as it stood then: refused alone again after answers
	// grew, one is buried (see refusedAlone). In memory only: a restart
	// costs a suspect one more refusal, never an envelope buried early.
	answers   atomic.Uint64
	suspectMu sync.Mutex
	suspects  map[string]suspect
	// past, when not "", is where batches of others start: the envelopes
	// up to it, oldest first, came in batches the peer answered none of,
	// refusing or garbling each, and are passed over so that those behind
	// them are sent, whose answers tell whether the peer takes this
	// node's envelopes (see passOver). struck is the newest of them since
	// the head of the queue last went beyond it, and struckAt w.answers
	// as it stood when the last of those batches was taken, or when
	// evidence against them was last spent, whichever came later: one of
	// them the peer fails again after answering others since is buried,
	// as a suspect is. Unlike suspects, they cost nothing per envelope, so
	// however many head the queue, none holds up those behind.
	past     string
	struck   string
	struckAt uint64
	// deferrals holds the envelopes the peer deferred out of batches,
	// each until its own backoff ends (see hold).
	deferMu   sync.Mutex
	deferrals map[string]deferral

	mu    sync.Mutex
	state PeerState
}

// run keeps up to InFlight batches on their way to the peer (more than one
// only while full batches are waiting). Envelopes of a
// batch in flight are not taken again until its answer is recorded, so each
// is sent once unless its batch failed; the destination deduplicates by
// envelope id in any case, and delivery order is not promised but for the
// updates of a referral case (see order.go). After a
// failure no new batch starts until the backoff has passed, and then one
// alone (see limit).
func (w *worker) run() {
	done := make(chan sent, w.m.cfg.InFlight)
	inflight := map[string]bool{}
	running, failures := 0, 0
	probe := false // the last batch did not get an answer: send one alone
	var retryAt time.Time
	closing := false
	for {
		for !closing && running < w.limit(probe) && !time.Now().Before(retryAt) {
			batch, size, err := w.pending(inflight, running)
			if err != nil {
				failures++
				probe = true
				w.record(failures, err)
				retryAt = time.Now().Add(backoff(w.m.cfg, failures))
				break
			}
			if w.m.ctx.Err() != nil {
				// Close began while the batch was read: it stays queued.
				closing = true
				break
			}
			if len(batch) == 0 {
				// Nothing queued, or only a partial batch while another is
				// in flight: it waits for that one, and meanwhile more queue
				// up and go together, instead of light traffic paying a
				// request, a signature and commits for every few records.
				break
			}
			for _, q := range batch {
				inflight[q.EnvelopeID] = true
			}
			running++
			t := &trip{since: w.answers.Load(), size: size}
			go func() { done <- w.send(batch, t) }()
		}
		if closing && running == 0 {
			return
		}
		var timer <-chan time.Time
		if wait := time.Until(retryAt); wait > 0 {
			timer = time.After(wait)
		} else if running < w.limit(probe) {
			wait := w.m.cfg.Idle
			if next := w.nextRelease(); next > 0 {
				wait = min(wait, next)
			}
			timer = time.After(wait)
		}
		ctxDone := w.m.ctx.Done()
		if closing {
			ctxDone = nil
		}
		select {
		case r := <-done:
			running--
			for _, q := range r.batch {
				delete(inflight, q.EnvelopeID)
			}
			probe = r.err != nil && !r.deferred
			switch {
			case errors.Is(r.err, errClosing):
				// Not the peer's failure: Close stopped the split, and
				// the rest of the batch waits in the outbox.
			case r.err != nil:
				failures++
				w.record(failures, r.err)
				retryAt = time.Now().Add(backoff(w.m.cfg, failures))
			case r.tookNone:
				// Held apart on their own backoff, which ends no
				// backoff of the worker's: a peer that defers all it
				// is sent is not sent the rest of the queue at once.
			default:
				failures = 0
				w.record(0, nil)
			}
		case <-w.wake:
		case <-timer:
		case <-ctxDone:
			// Batches in flight are finished, so the destination's receipts
			// are not lost; nothing new starts.
			closing = true
		}
	}
}

// limit is how many batches may be in flight. After a batch got no answer,
// one probes the peer until one does: a half-open breaker lets one call pass
// and refuses the others, and each refusal, counted as one more failure,
// would put the next attempt further off though the probe found the peer
// back. A peer that deferred envelopes has answered, and is not probed.
func (w *worker) limit(probe bool) int {
	if probe {
		return 1
	}
	return w.m.cfg.InFlight
}

// pending returns the oldest queued envelopes not already in flight, up to
// a batch; while another batch is in flight, only a full one. Waking for
// every accepted record, it must not copy a partial batch out of the store
// each time only to put it back.
//
// Suspects (see refusedAlone) are not taken in a batch but added after it
// (send sends them alone), so that they never fill the batch in the
// others' place. Envelopes the peer deferred are not taken until their
// hold ends (see hold). Envelopes passed over (see passOver) are not taken
// either, unless nothing is queued behind them; nor, while any of those
// is queued, is a referral update behind it in its case (see order.go).
//
// size is the batch size the batch was taken at.
func (w *worker) pending(inflight map[string]bool, running int) (batch []store.Queued, size int, err error) {
	suspects := w.suspectsToTry(inflight)
	held := w.held(len(suspects))
	for _, q := range suspects {
		held[q.EnvelopeID] = true
	}
	skip := func(id string) bool { return inflight[id] }
	if len(held) > 0 {
		skip = func(id string) bool { return inflight[id] || held[id] }
	}
	size = w.batchSize()
	w.suspectMu.Lock()
	past, struck := w.past, w.struck
	w.suspectMu.Unlock()
	if batch, err = w.take(running, size, skip, past); err != nil || running > 0 {
		return batch, size, err
	}
	if len(batch) == 0 && past != "" {
		// Nothing queued behind the envelopes passed over: they are
		// tried again, as the oldest batch would be.
		past = ""
		if batch, err = w.take(running, size, skip, ""); err != nil {
			return nil, size, err
		}
	}
	if struck != "" && past == "" {
		// No batch is in flight to move the marks meanwhile.
		w.suspectMu.Lock()
		w.past = ""
		if len(batch) == 0 || batch[0].EnvelopeID > struck {
			// The head of the queue went beyond the envelopes struck:
			// one queued with an older id now (a dead letter requeued)
			// was in no batch the peer answered none of.
			w.struck = ""
		}
		w.suspectMu.Unlock()
	}
	return append(batch, suspects...), size, nil
}

// take reads a batch of the oldest queued envelopes for pending, those
// after past only unless past is "" (the outbox keeps them in id order);
// while another batch is in flight, only a full one.
func (w *worker) take(running, size int, skip func(string) bool, past string) ([]store.Queued, error) {
	if past != "" {
		all := skip
		skip = func(id string) bool { return id <= past || all(id) }
	}
	if running > 0 {
		return w.m.outbox.PendingFull(w.peer, size, skip)
	}
	return w.m.outbox.Pending(w.peer, size, skip)
}

// sent is the end of one batch's trip.
type sent struct {
	batch []store.Queued
	err   error
	// deferred says err is the peer's answer that it deferred more
	// envelopes than the worker holds apart (see hold).
	deferred bool
	// tookNone says the peer answered, deferring every envelope: no
	// failure, and no success either.
	tookNone bool
}

// send delivers one batch and records its outcome: what the peer answered
// in the outbox, and what it refused for good in the dead letters (see
// deliver and bury). The envelopes of the batch the peer has refused alone
// before go alone after the others, so that one the peer refuses for good
// costs a single request, not a split of every batch, and is buried once
// the others show the peer taking envelopes (see refusedAlone).
//
// t is the batch's trip, begun when the batch was taken.
func (w *worker) send(batch []store.Queued, t *trip) sent {
	others, suspects := w.suspected(batch)
	full := t.size
	if len(others) < full {
		full = 0 // a partial batch, suspects added or not (see pending)
	}
	a := w.deliver(others, full, t)
	if len(others) > 0 {
		w.passOver(others, a, t)
	}
	// The suspects go even when the peer refused or garbled every other
	// envelope: those may all be to blame, and a suspect it takes is
	// evidence against them (see passOver). But a peer failing, or
	// refusing or garbling a suspect too, is not sent the rest, which
	// would cost a request each.
	var s attempt
	for _, q := range suspects {
		if a.err != nil && !a.deferred && !a.garbled || s.err != nil && !s.deferred || s.refusedAll() {
			break
		}
		s = s.join(w.part([]store.Queued{q}, t))
	}
	a = a.join(s)
	if err := w.bury(a); err != nil {
		return sent{batch: batch, err: err}
	}
	if a.refusedAll() {
		// Scrubbed as a dead letter's reason is: the error is the status
		// page's last error and the log's, and the peer's text may quote
		// a number from the envelope.
		held := ""
		if len(others) == 0 {
			ids := make([]string, len(suspects))
			for i, q := range suspects {
				ids[i] = q.EnvelopeID
			}
			held = fmt.Sprintf(" (%s, each refused alone before, with no other envelope queued to show whether it takes this node's)", strings.Join(ids, ", "))
		}
		return sent{batch: batch, err: fmt.Errorf("%s refused each envelope sent alone%s and took none, so none is buried: it may refuse this node rather than them; they stay queued and are tried again, and one refused alone once the peer has taken others is buried: %s", w.peer, held, scrub(a.refused.Error()))}
	}
	return sent{batch: batch, err: a.err, deferred: a.deferred, tookNone: a.err == nil && a.held == len(batch)}
}

// passOver moves where batches of others start (see worker.past) after
// the attempt a at others, a batch taken from there. When the peer
// answered none of them, refusing or garbling each, they are passed over,
// and struck. Once it answered some, the batches start from the oldest
// envelope again, so that those passed over are tried again now that
// their failing again is evidence against them. That includes answers
// to other batches while these were on their way (t): a peer that took
// those as it failed these is taking this node's envelopes, and on a
// quiet link no other answer may ever come. Once it was blamed for
// some, that evidence is spent: the others struck must fail again after
// it answers others again. A peer that refused everything for a while,
// took some, and refuses everything again can thus have a batch buried
// at most, not the whole queue it was sent meanwhile. Others are in id
// order, as the outbox keeps them.
func (w *worker) passOver(others []store.Queued, a attempt, t *trip) {
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	switch last := others[len(others)-1].EnvelopeID; {
	case a.answeredNone():
		w.past = max(w.past, last)
		w.struck = max(w.struck, last)
		// Never moved back: answers before a conviction spent them
		// stay spent, however long ago the batch was taken.
		w.struckAt = max(w.struckAt, t.since)
	case a.blamed:
		w.past = ""
		w.struckAt = w.answers.Load()
	case a.answered > 0:
		w.past = ""
	}
}

// post sends one batch and records the peer's answers. It returns the
// sender's error as it came, how many envelopes the peer answered, how
// many of those it deferred and holds apart, and the dead letters of
// those it has kept deferring for longer than Config.MaxDeferral (see
// overdue), for deliver to bury;
// deferred says the error is the peer's deferral of more envelopes than
// the worker holds apart (see hold), the others it deferred being no
// error. An answer that broke the protocol for some envelopes only (a
// BrokenAnswerError) has the others' answers recorded and counted, and
// its error is returned for deliver to see to those envelopes, unless the
// deferral's is (they are then named again the next time).
func (w *worker) post(batch []store.Queued) (answered, held int, dead []store.DeadLetter, deferred bool, err error) {
	start := time.Now()
	// A batch in flight is finished even when the node is shutting down, so
	// the destination's receipts are not lost; the request has its own
	// timeout, and CloseWithin may cut it sooner.
	outcomes, err := w.m.sender.Send(w.m.sending, w.peer, batch)
	broken, isBroken := brokenAnswer(err, batch)
	switch {
	case isBroken && len(broken.Outcomes) > 0:
		// The answers that hold are recorded; deliver sees to the others.
		outcomes = broken.Outcomes
	case err != nil && w.m.sending.Err() != nil:
		// Not the peer's failure: the batch waits in the outbox.
		return 0, 0, nil, false, fmt.Errorf("%w: %w", errClosing, err)
	case err != nil:
		return 0, 0, nil, false, err
	case len(outcomes) == 0:
		return 0, 0, nil, false, errors.New("peer answered no outcome for the batch")
	}
	latency := time.Since(start)
	ds := make([]store.Delivered, 0, len(outcomes))
	answers := make([]Outcome, 0, len(outcomes))
	var reasons, done []string
	var putOff []Outcome
	for _, o := range outcomes {
		if o.Deferred {
			reasons = append(reasons, o.Reasons...)
			putOff = append(putOff, o)
			continue
		}
		answers = append(answers, o)
		done = append(done, o.EnvelopeID)
		ds = append(ds, store.Delivered{EnvelopeID: o.EnvelopeID, Receipt: o.Receipt, Rejected: o.Rejected, Reasons: o.Reasons, PayloadDigest: o.PayloadDigest, Latency: latency})
	}
	w.heard(outcomes)
	if len(ds) > 0 {
		if err := w.m.outbox.MarkDelivered(context.WithoutCancel(w.m.ctx), w.peer, ds); err != nil {
			return 0, 0, nil, false, fmt.Errorf("record receipts from %s: %w", w.peer, err)
		}
		if w.m.obs != nil {
			w.m.obs.Delivered(w.peer, answers, batch, latency)
		}
		w.release(done)
	}
	if len(putOff) == 0 {
		return len(outcomes), 0, nil, false, err
	}
	dead, waiting, since, oerr := w.overdue(putOff)
	if oerr != nil {
		return len(outcomes), 0, nil, false, oerr
	}
	slices.Sort(reasons)
	why := fmt.Sprintf("%s deferred %d envelopes (%s)", w.peer, len(putOff), strings.Join(slices.Compact(reasons), ", "))
	w.mu.Lock()
	w.state.LastDeferral = mask(why + "; they wait for their own retry")
	w.mu.Unlock()
	if n := w.hold(waiting, since); n > 0 {
		// More deferred than a batch: the peer may defer everything, and
		// the worker backs off as after a failed batch rather than send
		// the whole queue around them.
		return len(outcomes), len(waiting), dead, true, fmt.Errorf("%s, %d of them beyond the %d held apart for their own retry; they stay queued", why, n, w.m.cfg.BatchSize)
	}
	return len(outcomes), len(waiting), dead, false, err
}

// record notes the outcome of a batch for the worker's state: a failure
// (err) and how many in a row, or, with err nil, a success.
func (w *worker) record(failures int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	resumed := w.state.Failures > 0
	w.state.Failures = failures
	if err != nil {
		// Masked as a dead letter's reason is (see scrub): a peer's error
		// text may quote a number from an envelope, and this one is logged
		// and shown on the status page.
		msg := mask(err.Error())
		w.state.LastError = msg
		if w.m.obs != nil {
			w.m.obs.Failed(w.peer, err)
		}
		if failures == 1 || failures%20 == 0 {
			w.m.log.Warn("delivery failing", "peer", w.peer, "failures", failures, "err", msg)
		}
		return
	}
	w.state.LastError = ""
	w.state.LastSuccess = time.Now()
	if resumed {
		w.m.log.Info("delivery resumed", "peer", w.peer)
	}
}

// backoff is exponential in the number of consecutive failures with full
// jitter in its upper half, so peers recovering together are not hit in step.
func backoff(cfg Config, failures int) time.Duration {
	// Compared before shifting: the shift can wrap to a small positive value.
	d := cfg.MaxBackoff
	if shift := min(failures-1, 20); cfg.MinBackoff <= cfg.MaxBackoff>>shift {
		d = cfg.MinBackoff << shift
	}
	return d/2 + rand.N(d/2+1)
}
