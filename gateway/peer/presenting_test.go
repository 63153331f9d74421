package peer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"

	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// TestARotatedCertificateIsPresentedOnANewConnection: p51 rotates its
// node certificate while its client holds a connection to p44, made with
// the old one, then revokes the old one. p44 checks the client's chain
// with every request, as a node does, and refuses each on that connection
// with 403, which the breaker does not count and the workers retry. The
// batch after the rotation must go over a new connection, presenting the
// new certificate, and be taken.
func TestARotatedCertificateIsPresentedOnANewConnection(t *testing.T) {
	f := newFixture(t)
	var revoked atomic.Pointer[x509.Certificate]
	h := NewHandler(f.recv)
	encodeError := errorEncoder(slog.New(slog.DiscardHandler), Path)
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-tls"), pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if old := revoked.Load(); old != nil && r.TLS.PeerCertificates[0].Equal(old) {
			encodeError(r.Context(), fmt.Errorf("%w: certificate revoked", auth.ErrForbidden), w)
			return
		}
		h.ServeHTTP(w, r)
	}))
	c, old, rotate := rotatingClient(t, f, srv.URL, BreakerSettings{})

	send := tracedSend(c)
	if _, err := send(); err != nil {
		t.Fatal(err)
	}
	if reused, err := send(); err != nil || !reused {
		t.Fatalf("second batch: reused %v, err %v; want it sent on the open connection", reused, err)
	}
	rotated := rotate()
	revoked.Store(old)
	if reused, err := send(); err != nil || reused {
		t.Fatalf("batch after the rotation and revocation: reused %v, err %v; want it taken over a new connection", reused, err)
	}
	f.recv.mu.Lock()
	defer f.recv.mu.Unlock()
	if got := f.recv.leaves[len(f.recv.leaves)-1]; !got.Equal(rotated) {
		t.Error("the batch after the rotation came with the old chain")
	}
}

// TestARotationKeepsThePeersBreaker: the peer is no better or worse for
// this node's new certificate: a breaker open before the rotation is open
// after it.
func TestARotationKeepsThePeersBreaker(t *testing.T) {
	f := newFixture(t)
	f.recv.broken = true
	c, _, rotate := rotatingClient(t, f, f.srv, BreakerSettings{Failures: 1})
	if _, err := c.Send(context.Background(), "44", batch("a")); err == nil {
		t.Fatal("a broken peer took the batch")
	}
	rotate()
	if _, err := c.Send(context.Background(), "44", batch("a")); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("batch after the rotation: %v, want the open breaker's %v", err, gobreaker.ErrOpenState)
	}
}

// rotatingClient is a p51 node's client reaching "44" at url, presenting
// a certificate from files reloaded on every use, and rotate, which
// replaces the files with a new certificate, has the key pair take it
// and returns it; old is the certificate before.
func rotatingClient(t *testing.T, f *fixture, url string, s BreakerSettings) (c *Client, old *x509.Certificate, rotate func() *x509.Certificate) {
	t.Helper()
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	keys, err := pki.LoadKeyPair(leaf.CertFile, leaf.KeyFile, pki.WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	tlsc := &pki.TLS{KeyPair: keys, Verifier: f.p.Verifier()}
	chain := func() [][]byte {
		c, err := keys.Certificate() // as the node's signer asks, with every batch
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate
	}
	c = NewClient(f.p.Verifier(), chain, directory{"44": url}, func(province string) (*http.Client, error) {
		cfg, err := tlsc.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
		if err != nil {
			return nil, err
		}
		tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}, nil
	}, s, Presenting(keys.Presenting))
	rotate = func() *x509.Certificate {
		t.Helper()
		next := f.p.Issue("51", pki.KindNode, "gw-1")
		for from, to := range map[string]string{next.CertFile: leaf.CertFile, next.KeyFile: leaf.KeyFile} {
			if err := os.Rename(from, to); err != nil {
				t.Fatal(err)
			}
		}
		if now := chain(); !bytes.Equal(now[0], next.Cert.Raw) {
			t.Fatal("the key pair did not load the rotated certificate")
		}
		return next.Cert
	}
	return c, leaf.Cert, rotate
}
