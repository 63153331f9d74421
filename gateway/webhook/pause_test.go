package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// pushOnce calls once and records its outcome as Run does, and returns it.
func pushOnce(p *Pusher) (int, error) {
	n, err := p.once(context.Background())
	p.note(n, err)
	return n, err
}

// ids are the envelope ids of items.
func ids(items []store.Incoming) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.EnvelopeID)
	}
	return out
}

// TestSkippingStopsWhenTheSystemRefusesEverything: a system that answers
// 422 to every item (say it expects another format) gets exactly
// MaxConsecutiveSkips of them skipped; then the push stops moving, fails
// with an error saying why, and State shows it paused. Once the system is
// fixed the rest arrive, in order, none of them skipped; and skipping
// resumes for an item it later refuses alone.
func TestSkippingStopsWhenTheSystemRefusesEverything(t *testing.T) {
	s, _, in := inboxWith(t, 25)
	defer s.Close()
	const limit = 10 // the default
	fixed, refused := false, in[20].EnvelopeID
	sys := newProvincialSystem(t, func(ids []string) int {
		if !fixed || slices.Contains(ids, refused) {
			return http.StatusUnprocessableEntity
		}
		return http.StatusOK
	})
	p, err := New(Config{URL: sys.URL, Batch: 8}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for range 4 {
		n, err := pushOnce(p)
		moved += n
		if err != nil {
			break
		}
	}
	if moved != limit {
		t.Fatalf("moved past %d items before stopping, want %d", moved, limit)
	}
	for range 3 {
		if n, err := pushOnce(p); n != 0 || err == nil {
			t.Fatalf("while paused: moved past %d items, err %v; want nothing moved and an error", n, err)
		}
	}
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	want := "refused the last 10 items one by one and accepted none; not skipping more until it accepts one (last answer 422 Unprocessable Entity)"
	if st.Pushed != limit || st.Skipped != limit || !st.Paused || st.Failures != 4 || !strings.Contains(st.LastError, want) {
		t.Fatalf("while refusing everything: %+v; want %d pushed and skipped, paused, 4 failures and an error saying %q", st, limit, want)
	}

	sys.mu.Lock()
	fixed = true
	sys.mu.Unlock()
	for range 6 {
		if _, err := pushOnce(p); err != nil {
			t.Fatalf("once fixed: %v", err)
		}
	}
	got, _ := sys.received()
	wantGot := slices.Delete(ids(in[limit:]), 20-limit, 21-limit)
	if !slices.Equal(got, wantGot) {
		t.Errorf("once fixed, the system received %v; want %v", got, wantGot)
	}
	if st, err = p.State(); err != nil {
		t.Fatal(err)
	}
	if st.Skipped != limit+1 || st.LastSkipped == nil || st.LastSkipped.EnvelopeID != refused || st.Paused || st.Failures != 0 || st.LastError != "" {
		t.Errorf("once fixed: %+v; want %s skipped besides the first %d, not paused, no failure", st, refused, limit)
	}
}

// TestAcceptedItemsResetTheSkipCount: the limit is on skips in a row. A
// system that refuses every other item has more of them skipped than the
// limit, since it accepts one between each.
func TestAcceptedItemsResetTheSkipCount(t *testing.T) {
	s, _, in := inboxWith(t, 12)
	defer s.Close()
	sys := newProvincialSystem(t, func(ids []string) int {
		for _, id := range ids {
			if id[len(id)-1]%2 == 1 {
				return http.StatusBadRequest
			}
		}
		return http.StatusOK
	})
	p, err := New(Config{URL: sys.URL, Batch: 4, MaxConsecutiveSkips: 2}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, p, s, 3)
	if st, err := p.State(); err != nil || st.Skipped != uint64(len(in)/2) || st.Paused {
		t.Errorf("state %+v, %v; want %d skipped and not paused", st, err, len(in)/2)
	}
}

// TestMaxConsecutiveSkipsIsValidated: a negative limit is refused, naming
// the field; zero takes the default.
func TestMaxConsecutiveSkipsIsValidated(t *testing.T) {
	if _, err := New(Config{URL: "http://province.test", MaxConsecutiveSkips: -1}, nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "MaxConsecutiveSkips") {
		t.Errorf("MaxConsecutiveSkips -1: err %v, want one naming the field", err)
	}
	p, err := New(Config{URL: "http://province.test"}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.MaxConsecutiveSkips != 10 {
		t.Errorf("no MaxConsecutiveSkips: limit %d, want the default 10", p.cfg.MaxConsecutiveSkips)
	}
}

// TestARunOfBadItemsDoesNotStopThePush: the system refuses a run of items
// longer than the limit, each for good, and takes those after it. Paused at
// the first refusal past the limit, the push offers the system the next
// item; it takes it, so it does not refuse everything: the refused item is
// skipped and the rest arrive, without a restart.
func TestARunOfBadItemsDoesNotStopThePush(t *testing.T) {
	s, _, in := inboxWith(t, 8)
	defer s.Close()
	bad := ids(in[:3])
	sys := newProvincialSystem(t, func(ids []string) int {
		for _, id := range ids {
			if slices.Contains(bad, id) {
				return http.StatusUnprocessableEntity
			}
		}
		return http.StatusOK
	})
	p, err := New(Config{URL: sys.URL, Batch: 8, MaxConsecutiveSkips: 2}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		pushOnce(p)
	}
	// The item offered while paused arrives twice: delivery is at least once.
	if got, _ := sys.received(); !slices.Equal(slices.Compact(got), ids(in[3:])) {
		t.Errorf("the system received %v; want %v", got, ids(in[3:]))
	}
	if st, err := p.State(); err != nil || st.Skipped != 3 || st.Pending != 0 || st.Paused {
		t.Errorf("state %+v, %v; want the 3 bad items skipped, nothing pending, not paused", st, err)
	}
}
