package delivery

import (
	"fmt"
	"sync"
	"time"
)

// sizing is how many envelopes a worker sends its peer per batch now:
// Config.BatchSize, halved when the peer answers 413 to a full batch (see
// deliver) or does not answer a batch in time (see slow), and grown back
// once the hold is over (see batchSize and grow).
type sizing struct {
	mu   sync.Mutex
	size int
	// restoreAt is when the lowered size has held for Config.ShrinkHold.
	restoreAt time.Time
	// growing says the hold is over: each full batch the peer answers
	// doubles the size, up to Config.BatchSize.
	growing bool
}

// current is the size now, for status pages: it grows nothing.
func (s *sizing) current() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// shrink lowers the batch size to n, as the webhook does, after the peer
// answered 413 to a full batch or timed out on a batch (why says which,
// for the log): a body limit below a full batch, or a link too slow for
// one within the client's timeout, slows the link instead of stopping it.
// It stays lowered for Config.ShrinkHold (see batchSize), counted anew
// with each shrink, so that a size still too large is halved again
// before anything grows it back.
func (w *worker) shrink(n int, why string) {
	n = max(n, 1)
	s := &w.sizing
	s.mu.Lock()
	if s.size <= n {
		s.mu.Unlock()
		return
	}
	s.size, s.restoreAt, s.growing = n, w.m.cfg.Now().Add(w.m.cfg.ShrinkHold), false
	s.mu.Unlock()
	w.m.log.Warn(why+"; sending fewer envelopes per batch", "peer", w.peer, "envelopes", n, "for", w.m.cfg.ShrinkHold)
}

// batchSize is the most envelopes to send the peer in one batch now: the
// lowered size while it holds (see shrink), then twice that, growing
// again with each full batch the peer answers (see grow), up to
// Config.BatchSize. Grown back step by step rather than at once: a peer
// that is still too slow for full batches costs one timeout per hold,
// where trying a full batch again would cost a timeout at every halving
// back down, enough of them in a row to open the peer's breaker.
func (w *worker) batchSize() int {
	s := &w.sizing
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size < w.m.cfg.BatchSize && !s.growing && !w.m.cfg.Now().Before(s.restoreAt) {
		s.size = min(2*s.size, w.m.cfg.BatchSize)
		s.growing = s.size < w.m.cfg.BatchSize
		w.m.log.Info("trying larger batches again", "peer", w.peer, "envelopes", s.size)
	}
	return s.size
}

// grow doubles the batch size, up to Config.BatchSize, once the peer has
// answered a full batch of full envelopes while the size grows back after
// a hold.
func (w *worker) grow(full int) {
	s := &w.sizing
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.growing && full == s.size {
		s.size = min(2*s.size, w.m.cfg.BatchSize)
		s.growing = s.size < w.m.cfg.BatchSize
	}
}

// slow reads err, the sender's error for batch, as the peer not answering
// it in time (Config.TimedOut), and then halves the batch size: the same
// batch sent again would most likely time out again, for ever. It returns
// err, saying so.
func (w *worker) slow(batch int, err error) error {
	if batch < 2 || w.m.cfg.TimedOut == nil || !w.m.cfg.TimedOut(err) {
		return err
	}
	w.shrink(batch/2, "the peer did not answer a batch in time")
	return fmt.Errorf("%w; the next batches carry at most %d envelopes", err, w.sizing.current())
}
