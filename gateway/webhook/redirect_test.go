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

// TestARedirectFromHTTPSToHTTPIsRefused: a 307 or 308 from the system's
// https address to a plain http one would resend the items, personal data,
// in clear text: the push fails instead, saying why, the cursor stays
// put, and nothing reaches the http address.
func TestARedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s, _, _ := inboxWith(t, 1)
			defer s.Close()
			var mu sync.Mutex
			plainCalls := 0
			plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				mu.Lock()
				plainCalls++
				mu.Unlock()
			}))
			defer plain.Close()
			secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, plain.URL+"/inbox", status)
			}))
			defer secure.Close()

			p, err := New(Config{URL: secure.URL + "/push", Client: secure.Client()}, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			n, pushErr := p.once(context.Background())
			if n != 0 || pushErr == nil || !strings.Contains(pushErr.Error(), "from https to http") {
				t.Errorf("pushed %d, err %v; want an error refusing the redirect to http", n, pushErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if plainCalls != 0 {
				t.Errorf("the http address was sent %d requests", plainCalls)
			}
			if cursor, err := s.Counter(cursorCounter); err != nil || cursor != 0 {
				t.Errorf("cursor %d, %v; want it unmoved", cursor, err)
			}
		})
	}
}
