package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// provincialSystem is an httptest server that answers each push with what
// answer says about its items, and keeps the ids of the items it took.
type provincialSystem struct {
	*httptest.Server
	mu    sync.Mutex
	calls int
	got   []string
}

func newProvincialSystem(t *testing.T, answer func(ids []string) int) *provincialSystem {
	t.Helper()
	ps := &provincialSystem{}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b Batch
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &b); err != nil {
			t.Errorf("the pusher sent %q: %v", data, err)
			return
		}
		var ids []string
		for _, it := range b.Items {
			ids = append(ids, it.EnvelopeID)
		}
		ps.mu.Lock()
		defer ps.mu.Unlock()
		ps.calls++
		if code := answer(ids); code != http.StatusOK {
			w.WriteHeader(code)
			return
		}
		ps.got = append(ps.got, ids...)
	}))
	t.Cleanup(ps.Close)
	return ps
}

// received is what the system took, and how many requests it answered.
func (ps *provincialSystem) received() ([]string, int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.got...), ps.calls
}

// pushAll calls once until the cursor reaches the inbox's head, and fails
// the test if it takes more than rounds calls or one fails.
func pushAll(t *testing.T, p *Pusher, s *store.Store, rounds int) {
	t.Helper()
	head, err := s.InboxHead()
	if err != nil {
		t.Fatal(err)
	}
	for range rounds {
		if _, err := p.once(context.Background()); err != nil {
			t.Fatalf("push: %v", err)
		}
		if cursor, err := s.Counter(cursorCounter); err != nil || cursor == head {
			return
		}
	}
	cursor, _ := s.Counter(cursorCounter)
	t.Fatalf("cursor at %d of %d after %d pushes", cursor, head, rounds)
}

// TestAnItemRefusedForGoodIsSkipped: the system refuses any batch holding
// one item with 422. The pusher splits the batches until that item is
// alone, delivers the others in order, skips it, counts the skip and keeps
// the count across a restart; the item stays in the inbox, and the log
// names it without its content or the URL's credentials.
func TestAnItemRefusedForGoodIsSkipped(t *testing.T) {
	s, path, in := inboxWith(t, 6)
	refused := incoming(6)
	refused.Record = []byte(`{"name":"Ana Pérez"}`)
	in = append(in, refused, incoming(7), incoming(8), incoming(9))
	if _, err := s.Receive(context.Background(), in[6:]); err != nil {
		t.Fatal(err)
	}
	bad := refused.EnvelopeID
	sys := newProvincialSystem(t, func(ids []string) int {
		for _, id := range ids {
			if id == bad {
				return http.StatusUnprocessableEntity
			}
		}
		return http.StatusOK
	})
	var logs bytes.Buffer
	url := strings.Replace(sys.URL, "http://", "http://hr:pa55@", 1) + "/inbox?token=s3cret"
	p, err := New(Config{URL: url, Batch: 8}, s, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, p, s, 3)

	got, _ := sys.received()
	var want []string
	for _, it := range in {
		if it.EnvelopeID != bad {
			want = append(want, it.EnvelopeID)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the system received %v, want %v: every other item, once, in order", got, want)
	}
	if _, err := s.InboxItem(bad); err != nil {
		t.Errorf("the skipped item left the inbox: %v", err)
	}
	line := logs.String()
	if !strings.Contains(line, bad) || !strings.Contains(line, "422") {
		t.Errorf("the log does not name the skipped item %s and its 422:\n%s", bad, line)
	}
	for _, secret := range []string{"Ana", "pa55", "s3cret"} {
		if strings.Contains(line, secret) {
			t.Errorf("the log shows %q:\n%s", secret, line)
		}
	}

	s.Close()
	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err = New(Config{URL: url}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pushed != uint64(len(in)) || st.Pending != 0 || st.Skipped != 1 || st.LastSkipped == nil {
		t.Fatalf("after a restart: %+v; want the cursor past every item and one skip", st)
	}
	if n, err := p.Skipped(); err != nil || n != 1 {
		t.Fatalf("Skipped after a restart = %d, %v; want 1", n, err)
	}
	if l := st.LastSkipped; l.EnvelopeID != bad || l.Status != "422 Unprocessable Entity" || l.At.IsZero() {
		t.Errorf("last skipped: %+v; want %s, 422 Unprocessable Entity and a time", *l, bad)
	}
}

// TestEveryItemRefusedForGoodIsSkipped: a system that refuses every item,
// no more of them than MaxConsecutiveSkips, gets each one alone once, and
// the push ends with all of them skipped rather than repeating a batch
// forever. (Past the limit the push stops skipping: see pause_test.go.)
func TestEveryItemRefusedForGoodIsSkipped(t *testing.T) {
	s, _, in := inboxWith(t, 12)
	defer s.Close()
	sys := newProvincialSystem(t, func([]string) int { return http.StatusBadRequest })
	p, err := New(Config{URL: sys.URL, Batch: 8, MaxConsecutiveSkips: len(in)}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pushAll(t, p, s, 2)

	got, calls := sys.received()
	// Halving a batch of n down to single items asks 2n-1 times.
	if len(got) != 0 || calls > 2*len(in) {
		t.Errorf("the system took %d items in %d requests; want none, in at most %d", len(got), calls, 2*len(in))
	}
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != uint64(len(in)) || st.Pending != 0 || st.LastSkipped == nil || st.LastSkipped.EnvelopeID != in[len(in)-1].EnvelopeID || st.Paused {
		t.Errorf("state %+v, want all %d items skipped, the last one last, and not paused", st, len(in))
	}
}

// TestRefusalsThatAreNotTheItemsAreRetried: "later" (408, 429, 5xx) and
// refusals of the request rather than its items (a wrong URL or expired
// credentials) are failures to retry: nothing is skipped, and once the
// system takes the items every one arrives.
func TestRefusalsThatAreNotTheItemsAreRetried(t *testing.T) {
	for _, code := range []int{
		http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusServiceUnavailable, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
	} {
		t.Run(statusText(code), func(t *testing.T) {
			s, _, in := inboxWith(t, 3)
			defer s.Close()
			refuse := true
			sys := newProvincialSystem(t, func([]string) int {
				if refuse {
					return code
				}
				return http.StatusOK
			})
			p, err := New(Config{URL: sys.URL, Batch: 2}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				n, err := pushOnce(p)
				if err == nil || n != 0 {
					t.Fatalf("a %d: moved past %d items, err %v; want an error and nothing moved", code, n, err)
				}
			}
			st, err := p.State()
			if err != nil {
				t.Fatal(err)
			}
			if st.Skipped != 0 || st.Pushed != 0 || st.Failures != 3 || !strings.Contains(st.LastError, statusText(code)) {
				t.Fatalf("after three %d: %+v; want three failures and nothing skipped", code, st)
			}
			sys.mu.Lock()
			refuse = false
			sys.mu.Unlock()
			pushAll(t, p, s, 3)
			if got, _ := sys.received(); len(got) != len(in) {
				t.Errorf("the system took %v, want all %d items", got, len(in))
			}
		})
	}
}

// TestAnItemTooLargeAloneIsSkipped: 413 to a single item cannot be helped
// by smaller batches; the item is skipped like any item refused alone.
func TestAnItemTooLargeAloneIsSkipped(t *testing.T) {
	s, _, in := inboxWith(t, 1)
	defer s.Close()
	sys := newProvincialSystem(t, func([]string) int { return http.StatusRequestEntityTooLarge })
	p, err := New(Config{URL: sys.URL}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.once(context.Background()); n != 1 || err != nil {
		t.Fatalf("moved past %d items, err %v; want the one item skipped", n, err)
	}
	if st, err := p.State(); err != nil || st.Skipped != 1 || st.LastSkipped == nil || st.LastSkipped.EnvelopeID != in[0].EnvelopeID {
		t.Errorf("state %+v, %v; want %s skipped", st, err, in[0].EnvelopeID)
	}
}

// TestAnItemTooLargeAloneKeepsTheBatchSize: a 413 that one item too large
// alone accounts for does not halve the batch size for ShrinkHold, whether
// it came to a partial batch or a full one; the item is skipped and the
// others pushed.
func TestAnItemTooLargeAloneKeepsTheBatchSize(t *testing.T) {
	tests := []struct {
		name       string
		batch, len int
	}{
		{"in a partial batch", 100, 3},
		{"in a full batch", 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, in := inboxWith(t, tt.len)
			defer s.Close()
			large := in[1].EnvelopeID
			sys := newProvincialSystem(t, func(ids []string) int {
				if slices.Contains(ids, large) {
					return http.StatusRequestEntityTooLarge
				}
				return http.StatusOK
			})
			p, err := New(Config{URL: sys.URL, Batch: tt.batch}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			pushAll(t, p, s, 3)
			st, err := p.State()
			if err != nil || st.Batch != tt.batch || st.Skipped != 1 || st.LastSkipped.EnvelopeID != large {
				t.Errorf("state %+v, %v; want batch %d kept and %s skipped", st, err, tt.batch, large)
			}
			if got, _ := sys.received(); len(got) != tt.len-1 {
				t.Errorf("the system took %v, want the %d others", got, tt.len-1)
			}
		})
	}
}
