package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
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

// TestClientNamesTheRequestOfABadAnswer: an answer cut short or not JSON is
// reported with the request it answered, not as a bare decoding error.
func TestClientNamesTheRequestOfABadAnswer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"state":`))
	}))
	defer srv.Close()
	c := &Client{base: srv.URL, http: srv.Client()}
	var out map[string]any
	err := c.Get(t.Context(), "/api/v1/status", &out)
	if err == nil || !strings.Contains(err.Error(), "GET /api/v1/status: the answer is not the expected JSON") {
		t.Errorf("err = %v, want it to name the request", err)
	}
}

// TestAuditReconcileSendsTheTimesGiven: the bounds of a reconcile went out
// cut to the second, so a bound copied from an entry's time took in
// entries before --from and left out some before --to. (From a review.)
func TestAuditReconcileSendsTheTimesGiven(t *testing.T) {
	var got url.Values
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := &Client{base: srv.URL, http: srv.Client()}
	from := time.Date(2026, 3, 15, 2, 9, 14, 561970119, time.UTC)
	to := from.Add(time.Millisecond)
	if _, err := c.AuditReconcile(t.Context(), "44", from, to); err != nil {
		t.Fatal(err)
	}
	if want := from.Format(time.RFC3339Nano); got.Get("from") != want {
		t.Errorf("from=%s; want %s", got.Get("from"), want)
	}
	if want := to.Format(time.RFC3339Nano); got.Get("to") != want {
		t.Errorf("to=%s; want %s", got.Get("to"), want)
	}
}
