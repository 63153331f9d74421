package batchsize

import (
	"testing"
	"time"
)

// TestASizeHoldsThenGrowsBackByDoubling follows one size through a 413 or
// timeout and back: halved and held, doubled when the hold ends, doubled
// again by each full batch taken, never above max, and held anew by a
// shrink while it grows.
func TestASizeHoldsThenGrowsBackByDoubling(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := New(16, time.Minute, func() time.Time { return now })
	next := func(want int, wantGrown bool) {
		t.Helper()
		if got, grown := s.Next(); got != want || grown != wantGrown {
			t.Fatalf("Next() = %d, %v; want %d, %v", got, grown, want, wantGrown)
		}
	}
	next(16, false)
	if !s.Shrink(2) {
		t.Fatal("Shrink(2) from 16 lowered nothing")
	}
	if s.Shrink(4) {
		t.Error("Shrink(4) raised a size of 2")
	}
	s.Grow(2) // not growing yet: the hold is on
	next(2, false)
	now = now.Add(time.Minute)
	next(4, true)
	next(4, false) // a second call in the same spell grows nothing
	s.Grow(2)      // a batch of the old size, sent before the doubling
	next(4, false)
	s.Grow(4)
	next(8, false)
	if !s.Shrink(0) {
		t.Fatal("Shrink(0) from 8 lowered nothing")
	}
	if got := s.Current(); got != 1 {
		t.Fatalf("after Shrink(0): %d, want 1, the least", got)
	}
	s.Grow(1) // held anew: the shrink stopped the growing
	next(1, false)
	now = now.Add(time.Minute)
	next(2, true)
	for _, full := range []int{2, 4, 8, 16, 16} {
		s.Grow(full)
	}
	if got := s.Current(); got != 16 {
		t.Fatalf("grown back to %d, want max 16", got)
	}
	now = now.Add(time.Hour)
	next(16, false)
}
