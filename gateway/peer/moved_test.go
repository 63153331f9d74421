package peer

import (
	"errors"
	"net/http"
	"testing"

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
