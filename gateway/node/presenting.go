package node

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/laborlink/laborlink/pki"
)

// presenting is the webhook client's transport: a transport that build
// makes, replaced by a new one once what it presents is behind the node's
// key pair (pki.Presented), so that the next push handshakes again and
// presents the new certificate. Connections are long-lived, kept open by
// the pushes and their retries: once the old certificate is revoked, a
// system that checks the client's certificate with every request, as a
// node does (refuseLapsed), would refuse each push on a connection made
// before the rotation, and each retry on it, for ever. (The peer client
// does the same for itself: peer.Presenting.)
//
// The old transport's idle connections are closed at once; one still
// carrying a push is left idle by it, never used again, and closed by the
// transport's idle timeout. The key pair moves its generation when asked
// for the certificate; on a node that happens with every record signed
// and every second besides (auditCertRotation). A push costs two atomic
// loads more, and a timer and a goroutine: http.Client times out with
// them a RoundTripper that is not its own Transport, nothing at the rate
// of pushes.
type presenting struct {
	keys  *pki.KeyPair
	build func() *http.Transport

	mu  sync.Mutex // held while replacing cur
	cur atomic.Pointer[presentingTransport]
}

// presentingTransport is a transport and what its connections present.
type presentingTransport struct {
	presented pki.Presented
	tr        *http.Transport
}

var _ http.RoundTripper = (*presenting)(nil)

// newPresenting returns a transport over the ones build makes, each
// presenting keys' certificate.
func newPresenting(keys *pki.KeyPair, build func() *http.Transport) *presenting {
	p := &presenting{keys: keys, build: build}
	p.cur.Store(&presentingTransport{presented: keys.Presenting(), tr: build()})
	return p
}

// RoundTrip sends r over the current transport.
func (p *presenting) RoundTrip(r *http.Request) (*http.Response, error) {
	return p.transport().RoundTrip(r)
}

// transport returns the transport whose connections present the current
// certificate, making it first if the key pair was reloaded since.
func (p *presenting) transport() *http.Transport {
	now := p.keys.Presenting() // before the transport is made: see pki.KeyPair.Presenting
	if c := p.cur.Load(); !c.presented.Behind(now) {
		return c.tr
	}
	p.mu.Lock()
	old := p.cur.Load()
	if !old.presented.Behind(now) {
		p.mu.Unlock()
		return old.tr
	}
	next := &presentingTransport{presented: now, tr: p.build()}
	p.cur.Store(next)
	p.mu.Unlock()
	// Outside the lock: closing a TLS connection may wait on its write.
	old.tr.CloseIdleConnections()
	return next.tr
}

// CloseIdleConnections closes the current transport's idle connections
// (http.Client.CloseIdleConnections).
func (p *presenting) CloseIdleConnections() {
	p.cur.Load().tr.CloseIdleConnections()
}
