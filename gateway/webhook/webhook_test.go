package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestPushesEveryItemInOrderThroughFailures has the provincial system fail
// its first requests; every item still arrives, in order, and the cursor
// survives a restart so nothing is pushed again.
func TestPushesEveryItemInOrderThroughFailures(t *testing.T) {
	s, path, in := inboxWith(t, 25)
	ctx := context.Background()

	var mu sync.Mutex
	var got []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var b Batch
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, it := range b.Items {
			got = append(got, it.EnvelopeID)
		}
	}))
	defer srv.Close()

	p, err := New(Config{URL: srv.URL, Batch: 10, Poll: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, p, s, uint64(len(in)))
	s.Close()
	s, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A restarted pusher finds nothing new to push.
	p, err = New(Config{URL: srv.URL}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := calls
	mu.Unlock()
	if n, err := p.once(ctx); n != 0 || err != nil {
		t.Fatalf("after restart: pushed %d, %v; want nothing", n, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if calls != before {
		t.Errorf("a restarted pusher called the system again")
	}
	if len(got) != len(in) {
		t.Fatalf("pushed %d items, want %d (no repeats)", len(got), len(in))
	}
	for i, id := range got {
		if id != in[i].EnvelopeID {
			t.Fatalf("item %d is %s, want %s: out of order", i, id, in[i].EnvelopeID)
		}
	}
}

// TestTooLargeBatchesShrink: a system whose body limit is below a full
// batch answers 413; the pusher halves its batches until they fit and
// pushes everything, in order, instead of retrying the same batch forever.
func TestTooLargeBatchesShrink(t *testing.T) {
	s, _, in := inboxWith(t, 40)
	defer s.Close()
	largest := 0
	sys := newProvincialSystem(t, func(ids []string) int {
		if len(ids) > 7 {
			return http.StatusRequestEntityTooLarge
		}
		largest = max(largest, len(ids))
		return http.StatusOK
	})
	p, err := New(Config{URL: sys.URL, Batch: 50, Poll: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, p, s, uint64(len(in)))
	got, _ := sys.received()
	for i, id := range got {
		if id != in[i].EnvelopeID {
			t.Fatalf("item %d is %s, want %s: out of order or repeated", i, id, in[i].EnvelopeID)
		}
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	if len(got) != len(in) || largest < 4 {
		t.Errorf("pushed %d items in batches of at most %d; want %d in batches of 4 to 7 (50 halved until it fits)", len(got), largest, len(in))
	}
}

// TestAHalvedBatchIsTriedWholeAgain: after ShrinkHold the push sends full
// batches again, so one 413 does not slow it until the node restarts. The
// hold is measured by a clock the test moves: on a loaded machine a short
// real one could end between the 413 and the halves.
func TestAHalvedBatchIsTriedWholeAgain(t *testing.T) {
	s, _, _ := inboxWith(t, 8)
	defer s.Close()
	ctx := context.Background()
	var mu sync.Mutex
	limit, sizes := 4, []int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if limit > 0 && len(b.Items) > limit {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		sizes = append(sizes, len(b.Items))
	}))
	defer srv.Close()
	now := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
	p, err := New(Config{URL: srv.URL, Batch: 8, ShrinkHold: time.Minute, Now: func() time.Time { return now }}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // 413, then two halves of 4
		p.once(ctx)
	}
	if st, _ := p.State(); st.Batch != 4 || st.Pushed != 8 {
		t.Fatalf("after a 413: batch %d, pushed %d; want 4 and 8", st.Batch, st.Pushed)
	}

	mu.Lock()
	limit = 0 // the system now takes any batch
	mu.Unlock()
	var more []store.Incoming
	for i := 8; i < 20; i++ {
		more = append(more, incoming(i))
	}
	if _, err := s.Receive(ctx, more); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if n, err := p.once(ctx); n != 4 || err != nil {
		t.Fatalf("within the hold: pushed %d (%v), want 4", n, err)
	}
	now = now.Add(time.Second)
	if n, err := p.once(ctx); n != 8 || err != nil {
		t.Fatalf("after the hold: pushed %d (%v), want all 8 in one batch", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{4, 4, 4, 8}; !slices.Equal(sizes, want) {
		t.Errorf("batches taken %v, want %v", sizes, want)
	}
}

// runUntil runs p until the cursor in s reaches want, failing the test if
// it does not within 10 seconds; Run has returned when runUntil does.
func runUntil(t *testing.T, p *Pusher, s *store.Store, want uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	pkitest.Eventually(t, 10*time.Second, fmt.Sprintf("the push to move the cursor to %d", want), func() bool {
		cursor, err := s.Counter(cursorCounter)
		if err != nil {
			t.Fatal(err)
		}
		return cursor == want
	})
}

// incoming is the i-th item of a test inbox.
func incoming(i int) store.Incoming {
	return store.Incoming{EnvelopeID: fmt.Sprintf("01E%03d", i), From: "51", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)}
}

// inboxWith opens a store in a temporary directory that has received n
// items, and returns it, its file and the items.
func inboxWith(t *testing.T, n int) (*store.Store, string, []store.Incoming) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var in []store.Incoming
	for i := range n {
		in = append(in, incoming(i))
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return s, path, in
}

// TestStateTellsHowThePushStands: failures and their error while the system
// refuses, then the position, nothing pending and no failure once it takes
// the items; the URL never shows its credentials.
func TestStateTellsHowThePushStands(t *testing.T) {
	s, _, in := inboxWith(t, 3)
	defer s.Close()
	refuse := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p, err := New(Config{URL: strings.Replace(srv.URL, "http://", "http://hr:pa55@", 1) + "/inbox?token=s3cret"}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		pushOnce(p)
	}
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.URL != srv.URL+"/inbox" || st.Pending != uint64(len(in)) || st.Pushed != 0 || st.Failures != 2 || !strings.Contains(st.LastError, "503") || !st.LastPush.IsZero() {
		t.Errorf("while refused: %+v", st)
	}
	figuresAsState(t, p, st)
	refuse = false
	pushOnce(p)
	if st, err = p.State(); err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Pushed != uint64(len(in)) || st.Failures != 0 || st.LastError != "" || st.LastPush.IsZero() {
		t.Errorf("once taken: %+v", st)
	}
	figuresAsState(t, p, st)
}

// figuresAsState checks that Pending and Failures, which the metrics read
// alone, answer what State st said.
func figuresAsState(t *testing.T, p *Pusher, st State) {
	t.Helper()
	if n, err := p.Pending(); err != nil || n != st.Pending {
		t.Errorf("Pending() = %d, %v; State says %d", n, err, st.Pending)
	}
	if n := p.Failures(); n != st.Failures {
		t.Errorf("Failures() = %d; State says %d", n, st.Failures)
	}
}

// TestAFailedPushShowsNoQueryCredentials: the error of a request that got
// no answer quotes its URL; logged and kept as State's LastError, it must
// not carry the credentials a URL's query may hold.
func TestAFailedPushShowsNoQueryCredentials(t *testing.T) {
	s, _, _ := inboxWith(t, 1)
	defer s.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	u := srv.URL + "/hook?token=SECRET123"
	srv.Close() // connection refused
	logs := &gatewaytest.Buffer{}
	p, err := New(Config{URL: u, Poll: time.Millisecond, MaxBackoff: time.Millisecond}, s, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	gatewaytest.Eventually(t, "the failure to be logged", func() bool { return strings.Contains(logs.String(), "webhook push failing") })
	cancel()
	<-done
	st, err := p.State()
	if err != nil || st.LastError == "" || strings.Contains(st.LastError, "SECRET123") {
		t.Errorf("state %+v, %v; want the failure without the query's secret", st, err)
	}
	if strings.Contains(logs.String(), "SECRET123") {
		t.Errorf("log shows the query's secret:\n%s", logs.String())
	}
}

// TestStateWhenTheStoreCannotBeRead: when the push's position could not be
// read, State returned nothing but the error, and the node's status left
// the webhook out altogether, hiding the failures an operator looks for
// there. It now returns what the pusher holds in memory, with Unread
// saying why the rest is missing. (From a review.)
func TestStateWhenTheStoreCannotBeRead(t *testing.T) {
	s, _, _ := inboxWith(t, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p, err := New(Config{URL: srv.URL + "/inbox"}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pushOnce(p)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := p.State()
	if err == nil {
		t.Fatal("State read a closed store without an error")
	}
	if st.URL != srv.URL+"/inbox" || st.Failures != 1 || !strings.Contains(st.LastError, "503") || st.Unread != err.Error() {
		t.Errorf("with the store closed: %+v; want the URL, one failure with its 503 and unread %q", st, err)
	}
}

// pushDuringRead is the store, but the first read of State's counters
// runs push before it reads them: a push landing between State's reads.
type pushDuringRead struct {
	*store.Store
	push func()
}

func (r *pushDuringRead) Counters(names []string) ([]uint64, error) {
	if push := r.push; push != nil {
		r.push = nil
		push()
	}
	return r.Store.Counters(names)
}

// TestStateNeverShowsTheCursorMovedWithNoPush: a push that lands while
// State reads must not show the cursor moved by the system's 2xx with no
// last push. advance notes the answer before it moves the cursor, so
// State reads the cursor first and what the pusher holds in memory after;
// read the other way round, as State did once it kept the memory's part
// for a store that cannot be read, a status page showed every item pushed
// and no push ever made. (From a review.)
func TestStateNeverShowsTheCursorMovedWithNoPush(t *testing.T) {
	s, _, in := inboxWith(t, 2)
	defer s.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	inbox := &pushDuringRead{Store: s}
	p, err := New(Config{URL: srv.URL + "/inbox"}, inbox, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	inbox.push = func() { pushOnce(p) }
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if inbox.push != nil {
		t.Fatal("State read no counters: the push never ran")
	}
	if st.Pushed != uint64(len(in)) || st.LastPush.IsZero() {
		t.Errorf("State with a push landing while it reads: %+v; want every item pushed, and the last push", st)
	}
}
