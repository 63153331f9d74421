package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestARedirectDoesNotAcknowledgeUnpushedItems has the provincial system
// answer the push with a redirect. A 301, 302 or 303 makes an HTTP client
// follow with a GET and no body: the 200 that GET earns must not move the
// cursor past items nobody received. A 307 or 308 resends the POST as it
// was, and counts.
func TestARedirectDoesNotAcknowledgeUnpushedItems(t *testing.T) {
	tests := []struct {
		status    int
		delivered bool
	}{
		{http.StatusMovedPermanently, false},
		{http.StatusFound, false},
		{http.StatusSeeOther, false},
		{http.StatusTemporaryRedirect, true},
		{http.StatusPermanentRedirect, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			s, _, _ := inboxWith(t, 1)
			defer s.Close()
			ctx := context.Background()

			var mu sync.Mutex
			var got []string
			mux := http.NewServeMux()
			mux.HandleFunc("/push", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/inbox", tt.status)
			})
			mux.HandleFunc("/inbox", func(w http.ResponseWriter, r *http.Request) {
				// Answers 200 to anything, as a landing page would.
				data, _ := io.ReadAll(r.Body)
				var b Batch
				if r.Method == http.MethodPost && json.Unmarshal(data, &b) == nil {
					mu.Lock()
					for _, it := range b.Items {
						got = append(got, it.EnvelopeID)
					}
					mu.Unlock()
				}
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			p, err := New(Config{URL: srv.URL + "/push"}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			n, pushErr := p.once(ctx)
			cursor, err := s.Counter(cursorCounter)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			received := len(got)
			mu.Unlock()
			if tt.delivered {
				if pushErr != nil || n != 1 || received != 1 || cursor != 1 {
					t.Errorf("pushed %d, err %v; system received %d; cursor %d: want 1, nil, 1, 1", n, pushErr, received, cursor)
				}
				return
			}
			if received != 0 {
				t.Fatalf("system received %d items through a %d", received, tt.status)
			}
			if cursor != 0 || pushErr == nil {
				t.Errorf("after a %d that delivered nothing: cursor %d, err %v; want the cursor unmoved and an error", tt.status, cursor, pushErr)
			}
		})
	}
}

// TestARedirectToPlainHTTPIsRefused: a 307 or 308 to a plain http address
// off the host would resend the items, personal data, in clear text,
// whether it came from the system's https address or from a plain http one
// on loopback (which webhook.url allows): the push fails instead, saying
// why, before anything is sent there, and the cursor stays put.
func TestARedirectToPlainHTTPIsRefused(t *testing.T) {
	for _, from := range []struct {
		name  string
		serve func(http.Handler) *httptest.Server
	}{{"https", httptest.NewTLSServer}, {"plain http on loopback", httptest.NewServer}} {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(from.name+"/"+http.StatusText(status), func(t *testing.T) {
				s, _, _ := inboxWith(t, 1)
				defer s.Close()
				// hr.example is never dialled: the redirect is refused first.
				srv := from.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "http://hr.example/inbox?token=s3cret", status)
				}))
				defer srv.Close()
				p, err := New(Config{URL: srv.URL + "/push", Client: srv.Client()}, s, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				n, pushErr := p.once(context.Background())
				if n != 0 || pushErr == nil || !strings.Contains(pushErr.Error(), "refused a redirect to http://hr.example/inbox") || strings.Contains(pushErr.Error(), "s3cret") {
					t.Errorf("pushed %d, err %v; want an error refusing the redirect to plain http, without the URL's query", n, pushErr)
				}
				if cursor, err := s.Counter(cursorCounter); err != nil || cursor != 0 {
					t.Errorf("cursor %d, %v; want it unmoved", cursor, err)
				}
			})
		}
	}
}

// TestARedirectToAnotherHostIsRefused: a 307 or 308 to another https
// host, or to another port of the loopback host, would resend the items,
// personal data, to a system the operator never configured, and its 2xx
// would move the cursor past items the configured one never got. (From a
// review.) The push fails instead, nothing reaches the other server, and
// the cursor stays put.
func TestARedirectToAnotherHostIsRefused(t *testing.T) {
	for _, other := range []struct {
		name  string
		serve func(http.Handler) *httptest.Server
	}{{"another https host", httptest.NewTLSServer}, {"plain http on another loopback port", httptest.NewServer}} {
		t.Run(other.name, func(t *testing.T) {
			var reached atomic.Int32
			elsewhere := other.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
			defer elsewhere.Close()
			s, _, _ := inboxWith(t, 2)
			defer s.Close()
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/inbox", http.StatusTemporaryRedirect)
			}))
			defer srv.Close()
			// One client trusts both test servers' certificate (httptest
			// shares one): only the redirect check stands in the way.
			p, err := New(Config{URL: srv.URL + "/push", Client: srv.Client()}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			n, pushErr := p.once(context.Background())
			if n != 0 || pushErr == nil || !strings.Contains(pushErr.Error(), "refused a redirect to "+elsewhere.URL) {
				t.Errorf("pushed %d, err %v; want an error refusing the redirect to %s", n, pushErr, elsewhere.URL)
			}
			if reached.Load() != 0 {
				t.Errorf("the other server got %d requests; want none", reached.Load())
			}
			if cursor, err := s.Counter(cursorCounter); err != nil || cursor != 0 {
				t.Errorf("cursor %d, %v; want it unmoved", cursor, err)
			}
		})
	}
}
