package peer

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/pki"
)

// TestRevokedServerOnAnOpenConnectionIsRefused: p44's node certificate is
// revoked while p51's client holds a connection to it. The next answer on
// that connection is refused, naming the peer and the revocation, and the
// connection is closed, so the batch after it handshakes again. The node
// signs its receipts with another certificate, still good, so only the
// server's certificate tells.
func TestRevokedServerOnAnOpenConnectionIsRefused(t *testing.T) {
	f := newFixture(t)
	tlsLeaf := f.p.Issue("44", pki.KindNode, "gw-tls")
	srv := f.p.Serve(tlsLeaf, pki.PeerPolicy{}, NewHandler(f.recv))
	v, revoked := revocable(f, tlsLeaf)
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	c := NewClient(v, func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": srv.URL}, func(province string) (*http.Client, error) {
		return f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province}), nil
	}, BreakerSettings{})

	send := tracedSend(c)
	if _, err := send(); err != nil {
		t.Fatal(err)
	}
	if reused, err := send(); err != nil || !reused {
		t.Fatalf("second batch: reused %v, err %v; want it sent on the open connection", reused, err)
	}
	revoked.Store(true)
	reused, err := send()
	if !reused {
		t.Fatal("the batch after the revocation did not go over the open connection; the test proves nothing")
	}
	if !errors.Is(err, pki.ErrRevoked) || !strings.Contains(err.Error(), "peer 44") {
		t.Fatalf("answer of a revoked server: err = %v, want one naming peer 44 and wrapping pki.ErrRevoked", err)
	}
	revoked.Store(false) // so that a new handshake would pass: what is left to see is whether there is one
	if reused, err := send(); err != nil || reused {
		t.Errorf("batch after the refusal: reused %v, err %v; want a new connection", reused, err)
	}
}

// tracedSend sends one batch to 44 over c and reports whether it got a
// connection opened before (and, refused there, perhaps a new one after).
func tracedSend(c *Client) func() (reused bool, err error) {
	return func() (reused bool, err error) {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = reused || info.Reused },
		})
		_, err = c.Send(ctx, "44", batch("a"))
		return reused, err
	}
}

// TestRevokedServerGetsNoBatchOnAnOpenConnection: once p44's server
// certificate is revoked, the batch p51 sends next over the connection
// opened before must not reach p44 at all: its envelopes carry personal
// data, and a certificate revoked for a key compromise may be served by
// whoever holds the key. Refusing the answer afterwards is too late. So
// over HTTP/2 and HTTP/1.1 alike.
func TestRevokedServerGetsNoBatchOnAnOpenConnection(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		t.Run(map[bool]string{true: "HTTP/2", false: "HTTP/1.1"}[h2], func(t *testing.T) {
			f := newFixture(t)
			tlsLeaf := f.p.Issue("44", pki.KindNode, "gw-tls")
			var received atomic.Int32
			h := NewHandler(f.recv)
			srv := f.p.Serve(tlsLeaf, pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				received.Add(1)
				h.ServeHTTP(w, r)
			}))
			v, revoked := revocable(f, tlsLeaf)
			leaf := f.p.Issue("51", pki.KindNode, "gw-1")
			c := NewClient(v, func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": srv.URL}, func(province string) (*http.Client, error) {
				hc := f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
				hc.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
				return hc, nil
			}, BreakerSettings{})

			send := tracedSend(c)
			if _, err := send(); err != nil {
				t.Fatal(err)
			}
			revoked.Store(true)
			reused, err := send()
			if !reused {
				t.Fatal("the batch after the revocation did not get the open connection; the test proves nothing")
			}
			if !errors.Is(err, pki.ErrRevoked) || !strings.Contains(err.Error(), "peer 44") {
				t.Errorf("batch to a revoked server: err = %v, want one naming peer 44 and wrapping pki.ErrRevoked", err)
			}
			if n := received.Load(); n != 1 {
				t.Errorf("the revoked server got %d requests, want only the 1 sent before the revocation", n)
			}
			if n := len(f.recv.envs); n != 1 {
				t.Errorf("the revoked server received %d envelopes, want only the 1 sent before the revocation", n)
			}
		})
	}
}

// revocable is a verifier of f's federation that takes leaf for revoked
// once revoked is set.
func revocable(f *fixture, leaf *pki.Leaf) (*pki.Verifier, *atomic.Bool) {
	revoked := new(atomic.Bool)
	v := f.p.Verifier()
	v.Revocation = pki.RevokedFunc(func(c *x509.Certificate) bool {
		return revoked.Load() && c.SerialNumber.Cmp(leaf.Cert.SerialNumber) == 0
	})
	return v, revoked
}
