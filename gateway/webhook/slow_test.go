package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// slowSystem never answers a batch of more than fits items: it holds the
// request until the client gives up. Smaller batches it takes at once.
type slowSystem struct {
	*httptest.Server
	mu    sync.Mutex
	fits  int
	sizes []int // the batches it took
	held  []int // the batches it held until the client gave up
}

func newSlowSystem(t *testing.T, fits int) *slowSystem {
	t.Helper()
	sys := &slowSystem{fits: fits}
	done := make(chan struct{})
	sys.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sys.mu.Lock()
		fits := sys.fits
		if fits > 0 && len(b.Items) > fits {
			sys.held = append(sys.held, len(b.Items))
		} else {
			sys.sizes = append(sys.sizes, len(b.Items))
		}
		sys.mu.Unlock()
		if fits > 0 && len(b.Items) > fits {
			select {
			case <-r.Context().Done():
			case <-done:
			}
		}
	}))
	t.Cleanup(func() { close(done); sys.Close() })
	return sys
}

// TestATimedOutBatchIsHalved: a system too slow for a full batch gets
// half as many items after each timeout, down to what it manages in
// time (one item at worst), instead of the same batch forever; State
// says it timed out. After ShrinkHold the size doubles, and doubles again
// after each full batch taken, back to full batches. The attempts are
// counted, not timed: the system holds a batch too large for it until the
// client gives up.
func TestATimedOutBatchIsHalved(t *testing.T) {
	tests := []struct {
		name       string
		fits       int
		wantHeld   []int
		wantSizes  []int
		wantRegrow []int // the batches of 16 more items, after the hold
	}{
		{"to what fits", 2, []int{8, 4}, []int{2, 2, 2, 2}, []int{4, 8, 4}},
		{"down to one item", 1, []int{8, 4, 2}, []int{1, 1, 1, 1, 1, 1, 1, 1}, []int{2, 4, 8, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := inboxWith(t, 8)
			defer s.Close()
			ctx := context.Background()
			sys := newSlowSystem(t, tt.fits)
			now := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
			p, err := New(Config{URL: sys.URL, Batch: 8, ShrinkHold: time.Minute, Now: func() time.Time { return now },
				Client: &http.Client{Timeout: 300 * time.Millisecond}}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			timeouts := 0
			for range len(tt.wantHeld) + len(tt.wantSizes) {
				n, err := p.once(ctx)
				p.note(n, err)
				var slow *slowError
				if errors.As(err, &slow) {
					timeouts++
					if st, _ := p.State(); !strings.Contains(st.LastError, "the provincial system timed out") || !strings.Contains(st.LastError, "within 300ms") {
						t.Errorf("after a timeout, last_error = %q; want it to say the system timed out, and within what", st.LastError)
					}
					if !slow.sent || !strings.Contains(err.Error(), "may have processed") {
						t.Errorf("timeout on a batch the system read whole: %v, sent %v; want it said it may have processed it", err, slow.sent)
					}
				} else if err != nil {
					t.Fatalf("once: %v; want a timeout or a push", err)
				}
			}
			st, err := p.State()
			if err != nil {
				t.Fatal(err)
			}
			sys.mu.Lock()
			held, sizes := slices.Clone(sys.held), slices.Clone(sys.sizes)
			sys.mu.Unlock()
			if st.Pushed != 8 || timeouts != len(tt.wantHeld) || !slices.Equal(held, tt.wantHeld) || !slices.Equal(sizes, tt.wantSizes) {
				t.Fatalf("pushed %d after %d timeouts; batches timed out %v, taken %v; want 8 after %d, %v and %v",
					st.Pushed, timeouts, held, sizes, len(tt.wantHeld), tt.wantHeld, tt.wantSizes)
			}
			if st.Batch != tt.fits || st.Failures != 0 || st.LastError != "" {
				t.Errorf("state %+v; want batch %d, no failures left", st, tt.fits)
			}

			// The system is fast again; after ShrinkHold, twice as many,
			// and twice again after each full batch it takes.
			sys.mu.Lock()
			sys.fits, sys.sizes = 0, nil
			sys.mu.Unlock()
			var more []store.Incoming
			for i := 8; i < 24; i++ {
				more = append(more, incoming(i))
			}
			if _, err := s.Receive(ctx, more); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
			for range tt.wantRegrow {
				if _, err := p.once(ctx); err != nil {
					t.Fatalf("after the hold: %v", err)
				}
			}
			sys.mu.Lock()
			sizes = slices.Clone(sys.sizes)
			sys.mu.Unlock()
			if !slices.Equal(sizes, tt.wantRegrow) {
				t.Fatalf("after the hold, 16 items went in batches of %v; want %v", sizes, tt.wantRegrow)
			}
			if st, _ := p.State(); st.Batch != 8 || st.Pushed != 24 {
				t.Errorf("after the hold: batch %d, pushed %d; want 8 and 24", st.Batch, st.Pushed)
			}
		})
	}
}

// TestASystemStillSlowAfterTheHoldCostsOneTimeout: when the hold ends,
// the push tries twice as many items, not a full batch: a system that is
// still too slow times out once, and the size is held where it was for
// another ShrinkHold, where a full batch would have cost a timeout per
// halving, each batch perhaps processed and sent again.
func TestASystemStillSlowAfterTheHoldCostsOneTimeout(t *testing.T) {
	s, _, _ := inboxWith(t, 16)
	defer s.Close()
	ctx := context.Background()
	sys := newSlowSystem(t, 2)
	now := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
	p, err := New(Config{URL: sys.URL, Batch: 16, ShrinkHold: time.Minute, Now: func() time.Time { return now },
		Client: &http.Client{Timeout: 300 * time.Millisecond}}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p.shrink(2, "did not answer in time") // as after timeouts at 16, 8 and 4
	now = now.Add(time.Minute)
	for range 7 { // a timeout at 4, then 14 items in batches of 2
		n, err := p.once(ctx)
		p.note(n, err)
	}
	sys.mu.Lock()
	held, sizes := slices.Clone(sys.held), slices.Clone(sys.sizes)
	sys.mu.Unlock()
	if want := []int{2, 2, 2, 2, 2, 2}; !slices.Equal(held, []int{4}) || !slices.Equal(sizes, want) {
		t.Fatalf("after the hold: batches timed out %v, taken %v; want [4] and %v", held, sizes, want)
	}
	if st, _ := p.State(); st.Batch != 2 || st.Pushed != 12 {
		t.Errorf("after the hold: batch %d, pushed %d; want 2 and 12", st.Batch, st.Pushed)
	}

	// Within the new hold, full batches of 2 taken do not grow the size.
	p.once(ctx)
	if st, _ := p.State(); st.Batch != 2 {
		t.Errorf("within the hold: batch %d; want 2", st.Batch)
	}
}

// TestATimeoutBeforeAConnectionKeepsTheBatchSize: a system that cannot
// be reached in time (here a TLS handshake that never completes) said
// nothing about the batch size, which a down system would otherwise take
// down to one item, slowing the push long after it is back.
func TestATimeoutBeforeAConnectionKeepsTheBatchSize(t *testing.T) {
	s, _, _ := inboxWith(t, 8)
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serveConns(ln, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c) // accepted, never answered
	})
	p, err := New(Config{URL: "https://" + ln.Addr().String() + "/in", Batch: 8, Client: &http.Client{Timeout: 200 * time.Millisecond}}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, err := p.once(context.Background())
		var slow *slowError
		if n != 0 || err == nil || errors.As(err, &slow) {
			t.Fatalf("once: %d, %v; want a timeout that is no slowError", n, err)
		}
	}
	if st, _ := p.State(); st.Batch != 8 {
		t.Errorf("batch %d after timeouts reaching the system; want 8", st.Batch)
	}
}

// TestATimeoutWhileThePushIsSentHalvesTheBatch: a system that takes the
// connection and the request but never reads its body past HTTP/2's
// receive window (64 KiB here) never had the batch whole. The time went
// on the batch all the same, as on a link too slow to carry a full one in
// time, and the same batch would time out again for ever: the size is
// halved. But the error does not say the system may have processed items
// it never had.
func TestATimeoutWhileThePushIsSentHalvesTheBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var in []store.Incoming
	for i := range 2 {
		item := incoming(i)
		item.Record = []byte(`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`)
		in = append(in, item)
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	sys := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			<-r.Context().Done() // the client gave up; the body was never read
		}
	}))
	sys.EnableHTTP2 = true
	sys.Config.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 64 << 10}
	sys.StartTLS()
	defer sys.Close()
	client := sys.Client()
	client.Timeout = time.Second
	// A request first, so that the push's time goes on the batch, not on
	// a handshake.
	resp, err := client.Get(sys.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the system answered over %s; the test needs HTTP/2's receive window", resp.Proto)
	}
	p, err := New(Config{URL: sys.URL, Batch: 2, Client: client}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	n, err := p.once(context.Background())
	var slow *slowError
	if n != 0 || !errors.As(err, &slow) {
		t.Fatalf("once: %d, %v; want a slowError", n, err)
	}
	if msg := err.Error(); slow.sent || !strings.Contains(msg, "still being sent") || strings.Contains(msg, "may have processed") {
		t.Errorf("push the system never read whole: %q, sent %v; want it not sent, and not said to be maybe processed", msg, slow.sent)
	}
	if st, _ := p.State(); st.Batch != 1 {
		t.Errorf("batch %d after a timeout sending a push of 2; want 1", st.Batch)
	}
}

// TestATimeoutOnAFewItemsHalvesTheSizeNotTheFew: a system that stalls for
// a moment does not answer in time a push of the few items pending, or
// a half of a batch it refused. That says the system was slow, not that
// batches of the size are too large: the size is halved, as after a full
// batch's timeout, not lowered to half the few, which would push the
// items that follow a few at a time for the whole hold. One item alone
// lowers nothing.
func TestATimeoutOnAFewItemsHalvesTheSizeNotTheFew(t *testing.T) {
	tests := []struct {
		name    string
		pending int
		refuse  bool // the first push is answered 422, its first half held
		want    int  // the batch size after the timeout
		next    int  // the items the push after it carries
	}{
		{"a few pending", 3, false, 8, 3},
		{"a half of a refused batch", 16, true, 8, 8},
		{"one item", 1, false, 16, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := inboxWith(t, tt.pending)
			defer s.Close()
			var mu sync.Mutex
			var sizes []int
			done := make(chan struct{})
			sys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b Batch
				if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				sizes = append(sizes, len(b.Items))
				call := len(sizes)
				mu.Unlock()
				switch {
				case tt.refuse && call == 1:
					w.WriteHeader(http.StatusUnprocessableEntity)
				case call == 1 || tt.refuse && call == 2:
					select { // until the client gives up
					case <-r.Context().Done():
					case <-done:
					}
				}
			}))
			t.Cleanup(func() { close(done); sys.Close() })
			p, err := New(Config{URL: sys.URL, Batch: 16, ShrinkHold: time.Minute,
				Client: &http.Client{Timeout: 300 * time.Millisecond}}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}

			_, err = p.once(context.Background())
			var slow *slowError
			if !errors.As(err, &slow) {
				t.Fatalf("once: %v; want a slowError", err)
			}
			if st, _ := p.State(); st.Batch != tt.want {
				t.Errorf("batch %d after a timeout on %d items of 16; want %d", st.Batch, slow.items, tt.want)
			}
			tell := fmt.Sprintf("the next pushes carry at most %d items", tt.want)
			if slow.items == 1 {
				tell = "raise the webhook timeout"
			}
			if !strings.Contains(err.Error(), tell) {
				t.Errorf("error %q; want it to say %q", err, tell)
			}

			if _, err := p.once(context.Background()); err != nil {
				t.Fatalf("once after the timeout: %v", err)
			}
			mu.Lock()
			last := sizes[len(sizes)-1]
			mu.Unlock()
			if last != tt.next {
				t.Errorf("the push after the timeout carried %d items; want %d", last, tt.next)
			}
		})
	}
}
