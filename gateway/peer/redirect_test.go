package peer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/pki"
)

// TestRedirectsAreNotFollowed: the peer API answers where it is asked and
// never redirects. A server that answers a batch with a redirect, to an
// http:// address above all, must not have the client send the batch
// again there: over plain HTTP its records would cross the network
// unencrypted, to a server no certificate names. The redirect is the
// answer, refused as any other that is not 200.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var plain atomic.Int64 // bytes the plain-HTTP server was sent
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		plain.Add(n + 1)
	}))
	defer elsewhere.Close()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		f := newFixture(t)
		leaf44 := f.p.Issue("44", pki.KindNode, "gw-1")
		srv := f.p.Serve(leaf44, pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, status)
		}))
		c := f.client(t, directory{"44": srv.URL}, BreakerSettings{})
		_, err := c.Send(context.Background(), "44", batch("a"))
		if n := plain.Load(); n != 0 {
			t.Fatalf("a %d answer had the client send %d bytes over plain HTTP to where it pointed", status, n-1)
		}
		if err == nil || !strings.Contains(err.Error(), "peer 44 redirected") {
			t.Errorf("a %d answer: err = %v, want one saying peer 44 redirected", status, err)
		}
	}
}
