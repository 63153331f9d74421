package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// idleCounter is a transport that counts the calls to close its idle
// connections; it sends nothing.
type idleCounter struct{ closed int }

func (t *idleCounter) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("idleCounter sends nothing")
}

func (t *idleCounter) CloseIdleConnections() { t.closed++ }

// TestAMovedPeersOldConnectionsAreClosed: when the directory moves a peer
// to a new address, the client's connections to the old one are closed
// rather than left to time out; the new client's are not touched.
func TestAMovedPeersOldConnectionsAreClosed(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	leaf := p.Issue("51", pki.KindNode, "gw-1")
	dir := directory{"44": "https://127.0.0.1:1"}
	var transports []*idleCounter
	c := NewClient(p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, dir, func(string) (*http.Client, error) {
		tr := &idleCounter{}
		transports = append(transports, tr)
		return &http.Client{Transport: tr}, nil
	}, BreakerSettings{})
	remote := func() {
		t.Helper()
		if _, err := c.remote("44"); err != nil {
			t.Fatal(err)
		}
	}
	remote()
	remote()
	if len(transports) != 1 || transports[0].closed != 0 {
		t.Fatalf("same address twice: %d clients, first closed %d times; want one, not closed", len(transports), transports[0].closed)
	}
	dir["44"] = "https://127.0.0.2:1"
	remote()
	if len(transports) != 2 || transports[0].closed != 1 || transports[1].closed != 0 {
		t.Errorf("after the move: %d clients, closed %d and %d times; want the old one closed once, the new one not", len(transports), transports[0].closed, transports[len(transports)-1].closed)
	}
}

// blocking is a receiver that holds each batch until release, after
// saying so on entered.
type blocking struct {
	Receiver
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Receiver.Receive(ctx, from, chain, envs, decoded)
}

// closeCounted is a connection that counts its closes.
type closeCounted struct {
	net.Conn
	closed *atomic.Int32
}

func (c closeCounted) Close() error {
	c.closed.Add(1)
	return c.Conn.Close()
}

// TestAMovedPeersBusyConnectionsCloseWhenTheirRequestsEnd: a connection
// that carries a request when the peer moves is closed as soon as the
// request ends, not left open until the transport's idle timeout; the
// request itself completes, and the connections to the new address stay
// open.
func TestAMovedPeersBusyConnectionsCloseWhenTheirRequestsEnd(t *testing.T) {
	f := newFixture(t)
	leaf := f.p.Issue("44", pki.KindNode, "gw-1")
	old := &blocking{Receiver: f.recv, entered: make(chan struct{}), release: make(chan struct{})}
	oldURL := f.p.Serve(leaf, pki.PeerPolicy{}, NewHandler(old)).URL
	dir := directory{"44": oldURL}
	closed := map[string]*atomic.Int32{}
	client := f.p.Issue("51", pki.KindNode, "gw-1")
	c := NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{client.Cert.Raw} }, dir, func(province string) (*http.Client, error) {
		hc := f.p.Client(client, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
		n := &atomic.Int32{}
		closed[dir[province]] = n
		var d net.Dialer
		hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return closeCounted{Conn: conn, closed: n}, nil
		}
		return hc, nil
	}, BreakerSettings{})

	sent := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), "44", batch("a"))
		sent <- err
	}()
	<-old.entered
	dir["44"] = f.srv
	if _, err := c.Send(context.Background(), "44", batch("b")); err != nil {
		t.Fatalf("send to the new address: %v", err)
	}
	if n := closed[oldURL].Load(); n != 0 {
		t.Fatalf("the old address's connection was closed %d times with a request on it", n)
	}
	close(old.release)
	if err := <-sent; err != nil {
		t.Fatalf("the request in flight when the peer moved: %v", err)
	}
	if n := closed[oldURL].Load(); n != 1 {
		t.Errorf("the old address's connection closed %d times once its request ended, want once", n)
	}
	if n := closed[f.srv].Load(); n != 0 {
		t.Errorf("the new address's connection closed %d times, want open", n)
	}
}
