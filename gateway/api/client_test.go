package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHTTP1 checks that the option makes a transport speak HTTP/1.1 to a
// server that offers HTTP/2, and that a transport without it keeps HTTP/2.
func TestHTTP1(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	for _, c := range []struct {
		opts []ClientOption
		want string
	}{
		{nil, "HTTP/2.0"},
		{[]ClientOption{HTTP1}, "HTTP/1.1"},
	} {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.ForceAttemptHTTP2 = true // as NewClient makes it
		for _, o := range c.opts {
			o(tr)
		}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Proto != c.want {
			t.Errorf("with %d options: spoke %s, want %s", len(c.opts), resp.Proto, c.want)
		}
		tr.CloseIdleConnections()
	}
}
