package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// slowPeer is a destination too slow for batches of more than most
// envelopes: it does not answer those before the client gives up, and
// hands the others to next.
type slowPeer struct {
	next Receiver
	most int
}

func (s slowPeer) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error) {
	if len(envs) > s.most {
		select {
		case <-ctx.Done(): // the client gave up
		case <-time.After(10 * time.Second):
		}
		return DeliverResponse{}, errors.New("too slow")
	}
	return s.next.Receive(ctx, from, chain, envs, decoded)
}

// TestATimedOutBatchIsHalvedThroughTheBreaker: a peer that cannot answer
// a batch of more than 3 envelopes within the client's timeout gets the
// batches halved after each timeout, which the breaker counts as a
// failure and opens on (after 2 here); the halving goes on with the
// batches the half-open breaker lets through, one at a time, until one
// goes through, and the queue drains. Each timeout is a TimeoutError
// naming the batch and the timeout.
func TestATimedOutBatchIsHalvedThroughTheBreaker(t *testing.T) {
	f := newFixture(t)
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewHandler(slowPeer{next: f.recv, most: 3}))
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	var mu sync.Mutex
	var transitions []string
	c := NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": srv.URL}, func(province string) (*http.Client, error) {
		hc := f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
		hc.Timeout = time.Second // ample for a batch of 3 on a loaded machine: a timeout of one would store it twice
		return hc, nil
	}, BreakerSettings{Failures: 2, Open: 50 * time.Millisecond, OnStateChange: func(_ string, _, to gobreaker.State) {
		mu.Lock()
		transitions = append(transitions, to.String())
		mu.Unlock()
	}})

	// One batch alone first: the error says what happened.
	_, err := c.Send(context.Background(), "44", batch("a", "b", "c", "d"))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Envelopes != 4 || te.Timeout != time.Second || !TimedOut(err) {
		t.Fatalf("send of 4 to a peer too slow for them: %v; want a TimeoutError for 4 envelopes within 1s", err)
	}
	if !te.Sent || !strings.Contains(err.Error(), "it may have stored them") {
		t.Errorf("send of 4 that the peer read whole: %v, Sent %v; want it said the peer may have stored them", err, te.Sent)
	}

	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var msgs []store.Outgoing
	for _, q := range batch(make([]string, 20)...) {
		msgs = append(msgs, store.Outgoing{EnvelopeID: q.EnvelopeID, Ref: "ref-" + q.EnvelopeID, Type: "transfer", Peer: "44", Envelope: q.Envelope})
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	m, err := delivery.NewManager(delivery.Config{BatchSize: 16, InFlight: 1, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Idle: 20 * time.Millisecond, Refusal: Refusal, TimedOut: TimedOut}, s, c, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool {
		q, err := s.Pending("44", 100, nil)
		return err == nil && len(q) == 0
	})
	f.recv.mu.Lock()
	stored := len(f.recv.envs)
	f.recv.mu.Unlock()
	if stored != 20 {
		t.Errorf("peer stored %d envelopes, want the 20 queued", stored)
	}
	if st := m.Peers(); st[0].BatchSize > 3 {
		t.Errorf("batch size = %d, want 3 or less", st[0].BatchSize)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(transitions, "open") || transitions[len(transitions)-1] != "closed" {
		t.Errorf("breaker transitions %v: want it opened by the timeouts, and closed once a halved batch went through", transitions)
	}
}

// TestATimeoutBeforeAConnectionIsNoTimeoutError: a peer whose TLS
// handshake does not complete within the client's timeout never had the
// batch, which says nothing of its size: the error is the transport's, not
// a TimeoutError, and the delivery worker keeps its batch size.
func TestATimeoutBeforeAConnectionIsNoTimeoutError(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Accepts connections and says nothing on them: no handshake.
	var mu sync.Mutex
	var conns []net.Conn
	var accepting sync.WaitGroup
	accepting.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		accepting.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	c := NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": "https://" + ln.Addr().String()}, func(province string) (*http.Client, error) {
		hc := f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
		hc.Timeout = 200 * time.Millisecond
		return hc, nil
	}, BreakerSettings{Failures: 5, Open: time.Second})

	_, err = c.Send(context.Background(), "44", batch("a", "b", "c", "d"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("send to a peer that never completes the handshake: %v; want a timeout", err)
	}
	if TimedOut(err) {
		t.Errorf("send to a peer that never completes the handshake: %v; want no TimeoutError, the batch never reached it", err)
	}
}

// TestABatchThePeerNeverReadsWholeTimesOutUnsent: a peer that takes the
// connection and the request but never reads its body past HTTP/2's
// receive window (1 MiB in net/http) never had the batch whole. The
// timeout still went on the batch, which halving may get through (a slow
// link takes as long to write it), so it is a TimeoutError; but not Sent,
// and it does not say the peer may have stored what it never had.
func TestABatchThePeerNeverReadsWholeTimesOutUnsent(t *testing.T) {
	f := newFixture(t)
	h := NewHandler(f.recv)
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1<<20 {
			<-r.Context().Done() // the client gave up; the body was never read
			return
		}
		h.ServeHTTP(w, r)
	}))
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	c := NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": srv.URL}, func(province string) (*http.Client, error) {
		hc := f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
		hc.Timeout = time.Second
		return hc, nil
	}, BreakerSettings{})
	// A small batch first, so that the large one's time goes on the
	// batch, not on a handshake.
	if _, err := c.Send(context.Background(), "44", batch("a")); err != nil {
		t.Fatal(err)
	}

	_, err := c.Send(context.Background(), "44", batch(strings.Repeat("x", 2<<20), "b"))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Envelopes != 2 || !TimedOut(err) {
		t.Fatalf("send of 2 envelopes the peer never read whole: %v; want a TimeoutError for 2 envelopes", err)
	}
	if te.Sent || strings.Contains(err.Error(), "may have stored") {
		t.Errorf("send of 2 envelopes the peer never read whole: %v, Sent %v; want it not sent, and not said to be maybe stored", err, te.Sent)
	}
}
