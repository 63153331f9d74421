package node

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/laborlink/laborlink/pki"
)

// presenting is the webhook client's transport: a transport that build
// makes, replaced by a new one once the node's key pair has reloaded
// rotated files, so that the next push handshakes again and presents the
// new certificate. Connections are long-lived, kept open by the pushes
// and their retries, and after a key compromise the runbook rotates the
// certificate, then revokes the old one: a system that checks the client's
// certificate with every request, as a node does (refuseLapsed), then
// refuses each push on a connection made before, and the push retries
// it, on that connection, for ever. (The peer client does the same for
// itself: peer.Presenting.)
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

// presentingTransport is a transport and the key pair's generation when it
// was made: its connections present that certificate or a later one.
type presentingTransport struct {
	gen uint64
	tr  *http.Transport
}

var _ http.RoundTripper = (*presenting)(nil)

// newPresenting returns a transport over the ones build makes, each
// presenting keys' certificate.
func newPresenting(keys *pki.KeyPair, build func() *http.Transport) *presenting {
	p := &presenting{keys: keys, build: build}
	p.cur.Store(&presentingTransport{gen: keys.Generation(), tr: build()})
	return p
}

// RoundTrip sends r over the current transport.
func (p *presenting) RoundTrip(r *http.Request) (*http.Response, error) {
	return p.transport().RoundTrip(r)
}

// transport returns the transport whose connections present the current
// certificate, making it first if the key pair was reloaded since. The
// generation is read before the transport is made, so a reload during
// its first handshake costs one handshake more, never a connection with
// the old certificate kept.
func (p *presenting) transport() *http.Transport {
	gen := p.keys.Generation()
	if c := p.cur.Load(); c.gen >= gen {
		return c.tr
	}
	p.mu.Lock()
	old := p.cur.Load()
	if old.gen >= gen {
		p.mu.Unlock()
		return old.tr
	}
	next := &presentingTransport{gen: gen, tr: p.build()}
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
