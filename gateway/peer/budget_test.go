package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// watched serves h, and says on read when a request's body is first read
// and on done once h has answered a request, or panicked: by then every
// reservation the request made is released.
type watched struct {
	h    http.Handler
	read chan struct{}
	done chan struct{}
}

func watch(h http.Handler) *watched {
	return &watched{h: h, read: make(chan struct{}, 16), done: make(chan struct{}, 16)}
}

func (s *watched) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() { s.done <- struct{}{} }()
	r.Body = &firstRead{ReadCloser: r.Body, read: s.read}
	s.h.ServeHTTP(w, r)
}

// await waits for a signal on ch, and fails the test if none comes within
// a few seconds.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s", what)
	}
}

// unread fails the test if a body was read since the last drained signal.
func (s *watched) unread(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.read:
		t.Errorf("%s: its body was read", what)
	default:
	}
}

type firstRead struct {
	io.ReadCloser
	once sync.Once
	read chan<- struct{}
}

func (b *firstRead) Read(p []byte) (int, error) {
	b.once.Do(func() { b.read <- struct{}{} })
	return b.ReadCloser.Read(p)
}

// postBody posts body to the peer API at url as hc, declaring length
// (-1: none), and returns the answer. A body the server waits for and
// never gets fails the test after a few seconds.
func postBody(t *testing.T, ctx context.Context, hc *http.Client, url string, body io.Reader, length int64) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+Path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = length
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("post %d bytes: %v", length, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// neverSent is a body whose bytes never come: a server that reads it
// does not answer.
func neverSent(t *testing.T) io.Reader {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return pr
}

// padded is an empty batch of n bytes: read, it is answered 400.
func padded(n int) string { return strings.Repeat(" ", n-2) + "{}" }

// TestBatchesShareTheNodesBodyBudget: the bytes of the batches a node
// holds at once, over all provinces, are bounded by MaxBodies, each batch
// counted at its declared length or, without one, at MaxBody: one that
// does not fit beside those in hand is answered 503 with Retry-After
// before its body is read (and gives back its province's share), which
// the origin sends again rather than refuse; one that fits is read; and
// one larger than the budget is read once it is alone.
func TestBatchesShareTheNodesBodyBudget(t *testing.T) {
	f := newFixture(t)
	hold := &heldReceiver{next: f.recv, entered: make(chan struct{}, 1), released: make(chan struct{})}
	const budget = 64 << 10
	s := watch(NewHandler(hold, MaxBodies(budget), MaxPerProvince(2)))
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, s)
	c := f.client(t, directory{"44": srv.URL}, BreakerSettings{})
	sent := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), "44", batch(strings.Repeat("x", 40<<10)))
		sent <- err
	}()
	await(t, hold.entered, "batch in the receiver")
	await(t, s.read, "body read")
	ctx := context.Background()
	hc := f.p.Client(f.p.Issue("51", pki.KindNode, "gw-9"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})

	for _, tc := range []struct {
		name   string
		length int64
	}{
		{"a batch of 30 KiB beside one of 40", 30 << 10},
		{"a batch of no declared length", -1},
	} {
		status, h, body := postBody(t, ctx, hc, srv.URL, neverSent(t), tc.length)
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "busy") || !strings.Contains(body, "bytes") {
			t.Errorf("%s: %d, Retry-After %q, %s; want 503 busy with Retry-After", tc.name, status, h.Get("Retry-After"), body)
		}
		await(t, s.done, "answer")
		s.unread(t, tc.name)
	}
	_, err := c.Send(ctx, "44", batch(strings.Repeat("y", 30<<10)))
	var answer *AnswerError
	if _, _, refused := Refusal(err); !errors.As(err, &answer) || answer.Status != http.StatusServiceUnavailable || refused || healthy(err) {
		t.Errorf("a batch of 30 KiB from the client meanwhile: %v; want 503, to be sent again and counted by the breaker", err)
	}
	await(t, s.done, "answer")
	// p51's share is 2, one taken by the batch in hand: the refusals
	// above gave theirs back.
	if status, _, body := postBody(t, ctx, hc, srv.URL, strings.NewReader(padded(1<<10)), 1<<10); status != http.StatusBadRequest {
		t.Errorf("a batch of 1 KiB meanwhile: %d %s; want it read (400, the batch is empty)", status, body)
	}
	await(t, s.done, "answer")

	close(hold.released)
	if err := <-sent; err != nil {
		t.Errorf("the batch in hand: %v", err)
	}
	await(t, s.done, "answer")
	if status, _, body := postBody(t, ctx, hc, srv.URL, strings.NewReader(padded(2*budget)), 2*budget); status != http.StatusBadRequest {
		t.Errorf("a batch of twice the budget alone: %d %s; want it read (400, the batch is empty)", status, body)
	}
}

// panicking hands batches on to next, but for one whose first envelope
// says "panic".
type panicking struct{ next Receiver }

func (p panicking) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error) {
	if strings.Contains(string(envs[0]), `"panic"`) {
		panic("receiver failed")
	}
	return p.next.Receive(ctx, from, chain, envs, decoded)
}

// TestTheBodyBudgetIsReleasedOnEveryPath: whatever becomes of a batch
// (taken, refused as a bad batch or too large, a handler that panics, a
// caller gone while its body is read), its bytes are given back once it is
// answered: a batch larger than the whole budget, read only when nothing
// else is in hand, is read next.
func TestTheBodyBudgetIsReleasedOnEveryPath(t *testing.T) {
	f := newFixture(t)
	const budget = 1 << 10
	s := watch(NewHandler(panicking{f.recv}, MaxBodies(budget)))
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, s)
	c := f.client(t, directory{"44": srv.URL}, BreakerSettings{Failures: 100})
	hc := f.p.Client(f.p.Issue("51", pki.KindNode, "gw-9"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	ctx := context.Background()
	alone := func(after string) {
		t.Helper()
		await(t, s.done, "answer")
		if status, _, body := postBody(t, ctx, hc, srv.URL, strings.NewReader(padded(2*budget)), 2*budget); status != http.StatusBadRequest {
			t.Errorf("after %s, a batch of twice the budget: %d %s; want it read (400, the batch is empty), nothing being in hand", after, status, body)
		}
		await(t, s.done, "answer")
		for len(s.read) > 0 {
			await(t, s.read, "body read")
		}
	}

	if _, err := c.Send(ctx, "44", batch("a")); err != nil {
		t.Errorf("a batch taken: %v", err)
	}
	alone("a batch taken")
	if status, _, body := postBody(t, ctx, hc, srv.URL, strings.NewReader("{}"), 2); status != http.StatusBadRequest {
		t.Errorf("an empty batch: %d %s; want 400", status, body)
	}
	alone("a bad batch")
	if status, _, body := postBody(t, ctx, hc, srv.URL, neverSent(t), MaxBody+1); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a batch declared over MaxBody: %d %s; want 413", status, body)
	}
	alone("a batch too large")
	if _, err := c.Send(ctx, "44", batch("panic")); err == nil {
		t.Errorf("a batch whose handler panicked: no error")
	}
	alone("a handler that panicked")

	gone, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(gone, http.MethodPost, srv.URL+Path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 512
	go func() {
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	go pw.Write([]byte("{"))
	await(t, s.read, "body read")
	if status, _, body := postBody(t, ctx, hc, srv.URL, strings.NewReader(padded(2*budget)), 2*budget); status != http.StatusServiceUnavailable {
		t.Errorf("a batch of twice the budget while one is read: %d %s; want 503", status, body)
	}
	await(t, s.done, "answer")
	cancel()
	alone("a caller gone while its body was read")
}
