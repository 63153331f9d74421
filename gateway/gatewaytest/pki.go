// Package gatewaytest builds real test fixtures for the gateway's packages:
// a federation PKI in a temporary directory (a layer over pkitest that needs
// no testing.TB per call and shares one revocation list) and mutual-TLS
// servers and clients on loopback. Nothing here is a mock. It also holds
// what the gateway's tests and benchmarks share besides, such as waiting on
// a condition (Eventually).
package gatewaytest

import (
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// Domain is the federation domain of test PKIs.
const Domain = "fed.test"

// PKI is a federation PKI with a CA per province.
type PKI struct {
	t testing.TB
	// Fed is the federation: its root and the province CAs.
	Fed  *pki.Federation
	base *pkitest.PKI
}

// NewPKI creates a root and a CA for each province in a temporary directory.
func NewPKI(t testing.TB, provinces ...string) *PKI {
	t.Helper()
	base := pkitest.New(t, Domain, provinces...)
	return &PKI{t: t, Fed: base.Fed, base: base}
}

// Issue issues a certificate of kind for name in province; node
// certificates are valid for 127.0.0.1.
func (p *PKI) Issue(province string, kind pki.Kind, name string) *pki.Leaf {
	p.t.Helper()
	return p.base.Issue(p.t, province, kind, name)
}

// Verifier verifies chains against the federation root.
func (p *PKI) Verifier() *pki.Verifier {
	return p.base.Verifier(nil)
}

// TLS returns the mutual-TLS builder for a leaf.
func (p *PKI) TLS(leaf *pki.Leaf) *pki.TLS {
	p.t.Helper()
	return p.base.TLS(p.t, leaf, nil)
}

// Signer returns the leaf's key and chain as a signer.
func (p *PKI) Signer(leaf *pki.Leaf) *pki.Signer {
	p.t.Helper()
	return pkitest.Signer(p.t, leaf)
}

// Server is a running HTTPS test server.
type Server struct {
	// URL is "https://127.0.0.1:port".
	URL string
	srv *http.Server
}

// Close stops the server at once.
func (s *Server) Close() { s.srv.Close() }

// Serve starts an HTTPS server on loopback for h, presenting leaf and
// accepting clients that satisfy policy. It is closed when the test ends.
// (httptest.Server would present its own certificate to clients that send
// no SNI, which is every client dialing an IP address.)
func (p *PKI) Serve(leaf *pki.Leaf, policy pki.PeerPolicy, h http.Handler) *Server {
	p.t.Helper()
	cfg, err := p.TLS(leaf).ServerConfig(policy)
	if err != nil {
		p.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	p.t.Cleanup(func() { srv.Close() })
	return &Server{URL: "https://" + ln.Addr().String(), srv: srv}
}

// Client returns an HTTP client presenting leaf that accepts only servers
// satisfying policy.
func (p *PKI) Client(leaf *pki.Leaf, policy pki.PeerPolicy) *http.Client {
	p.t.Helper()
	cfg, err := p.TLS(leaf).ClientConfig(policy)
	if err != nil {
		p.t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	p.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
