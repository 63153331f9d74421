// Package batchsize holds how many items a sender puts in one request to a
// far end that may not take a full batch: a peer node (delivery) or the
// provincial system (webhook). A far end that answers 413 to a full
// batch, or does not answer one in time, gets batches of half the size for
// a while; a body limit or a slow link then slows the stream instead of
// stopping it.
package batchsize

import (
	"sync"
	"time"
)

// Size is the most items per request now: Max, or less for a while after
// Shrink. Once Hold has passed since the last Shrink, the next call to
// Next doubles it, and each full batch the far end takes (Grow) doubles
// it again, up to Max. It grows back step by step rather than at once: a
// far end still too slow for full batches then costs one timeout per
// hold, where trying a full batch again would cost a timeout at every
// halving back down. Its methods may be called from several goroutines.
type Size struct {
	max  int
	hold time.Duration
	now  func() time.Time

	mu   sync.Mutex
	size int
	// restoreAt is when the lowered size has held for hold.
	restoreAt time.Time
	// growing says the hold is over: each full batch taken doubles the
	// size, up to max.
	growing bool
}

// New returns a Size at max that holds a lowered size for hold, by the
// clock now (nil: time.Now).
func New(max int, hold time.Duration, now func() time.Time) *Size {
	if now == nil {
		now = time.Now
	}
	return &Size{max: max, hold: hold, now: now, size: max}
}

// Current is the size now, for status pages: it grows nothing.
func (s *Size) Current() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Next is the size for the next request. grown reports that the hold has
// just ended and the size doubled, for the caller to log.
func (s *Size) Next() (size int, grown bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size < s.max && !s.growing && !s.now().Before(s.restoreAt) {
		s.size = min(2*s.size, s.max)
		s.growing, grown = s.size < s.max, true
	}
	return s.size, grown
}

// Shrink lowers the size to n (at least 1) and holds it for the hold,
// counted anew, so that a size still too large is halved again before
// anything grows it back. It reports whether it lowered the size: a
// smaller one, set by a request answered meanwhile, stays.
func (s *Size) Shrink(n int) bool {
	n = max(n, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= s.size {
		return false
	}
	s.size, s.restoreAt, s.growing = n, s.now().Add(s.hold), false
	return true
}

// Grow doubles the size, up to max, once the far end has taken a batch of
// full items while the size grows back after a hold. A batch of another
// size than the current one (two in flight, one already doubled it) grows
// nothing.
func (s *Size) Grow(full int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.growing && full == s.size {
		s.size = min(2*s.size, s.max)
		s.growing = s.size < s.max
	}
}
