package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// deadLetterActs is a node's dead letters as the API sees them: each act
// is noted, and an unknown envelope id is not found.
type deadLetterActs struct{ acts []string }

func (d *deadLetterActs) DeadLetters(string) ([]store.DeadLetter, error) { return nil, nil }

func (d *deadLetterActs) Requeue(_ context.Context, r RequeueRequest) (int, error) {
	return d.act("requeue", r)
}

func (d *deadLetterActs) Discard(_ context.Context, r DiscardRequest) (int, error) {
	return d.act("discard", RequeueRequest(r))
}

func (d *deadLetterActs) act(what string, r RequeueRequest) (int, error) {
	d.acts = append(d.acts, fmt.Sprintf("%s %s %q all=%v", what, r.Peer, r.EnvelopeID, r.All))
	if r.EnvelopeID == "01NOSUCH" {
		return 0, fmt.Errorf("no dead letter %s for %s: %w", r.EnvelopeID, r.Peer, store.ErrNotFound)
	}
	if r.All {
		return 2, nil
	}
	return 1, nil
}

// deadLetterServer serves the local API of a node of province 51 over
// d, to callers of the kind *as points to.
func deadLetterServer(t *testing.T, d DeadLetters, as *pki.Kind) *httptest.Server {
	t.Helper()
	h := NewHandler(MakeSet(Services{Province: "51", DeadLetters: d}))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := pki.Identity{Domain: "laborlink.example", Province: "51", Kind: *as, Name: "x"}
		h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDiscardRoute: POST /api/v1/deadletters/discard takes the body of a
// requeue, under the same rules, from the same kinds, and discards: it
// never requeues, and the requeue route never discards.
func TestDiscardRoute(t *testing.T) {
	d := &deadLetterActs{}
	as := pki.KindOperator
	srv := deadLetterServer(t, d, &as)
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name       string
		kind       pki.Kind
		path, body string
		status     int
		want, act  string // in the answer; the act done, if any
	}{
		{"one", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX"}`, 200, `{"discarded":1}`, `discard 44 "01JX" all=false`},
		{"all", pki.KindAdmin, "/api/v1/deadletters/discard", `{"peer":"44","all":true}`, 200, `{"discarded":2}`, `discard 44 "" all=true`},
		{"requeue stays requeue", pki.KindOperator, "/api/v1/deadletters/requeue", `{"peer":"44","all":true}`, 200, `{"requeued":2}`, `requeue 44 "" all=true`},
		{"unknown id", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01NOSUCH"}`, 404, "no dead letter 01NOSUCH", `discard 44 "01NOSUCH" all=false`},
		{"neither id nor all", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44"}`, 400, "name the envelope_id to discard, or set all to discard every dead letter for 44", ""},
		{"both id and all", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX","all":true}`, 400, "envelope_id and all exclude each other", ""},
		{"bad peer", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"4","all":true}`, 400, "peer must be a province code", ""},
		{"unknown member", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"force":true}`, 400, `unknown field \"force\"`, ""},
		{"own province", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"51","all":true}`, 400, "51, this node's own province", ""},
		{"system", pki.KindSystem, "/api/v1/deadletters/discard", `{"peer":"44","all":true}`, 403, "system certificates may not do this", ""},
		{"auditor", pki.KindAuditor, "/api/v1/deadletters/discard", `{"peer":"44","all":true}`, 403, "auditor certificates may not do this", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, d.acts = tt.kind, nil
			status, body := post(tt.path, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s as %s: %d %s, want %d with %q", tt.path, tt.body, tt.kind, status, body, tt.status, tt.want)
			}
			var want []string
			if tt.act != "" {
				want = []string{tt.act}
			}
			if !slices.Equal(d.acts, want) {
				t.Errorf("acts %q, want %q", d.acts, want)
			}
		})
	}
}

// TestClientDiscard: the client posts the discard of one dead letter or of
// all of a peer's to the discard route, and reads how many went, or the
// node's 404.
func TestClientDiscard(t *testing.T) {
	d := &deadLetterActs{}
	as := pki.KindOperator
	srv := deadLetterServer(t, d, &as)
	c := &Client{base: srv.URL, http: srv.Client()}
	if n, err := c.Discard(t.Context(), "44", "01JX"); err != nil || n != 1 {
		t.Errorf("Discard one = %d, %v", n, err)
	}
	if n, err := c.Discard(t.Context(), "44", ""); err != nil || n != 2 {
		t.Errorf("Discard all = %d, %v", n, err)
	}
	if _, err := c.Discard(t.Context(), "44", "01NOSUCH"); err == nil || !strings.Contains(err.Error(), "no dead letter 01NOSUCH") {
		t.Errorf("Discard of an unknown id: %v, want the node's not found", err)
	}
	want := []string{`discard 44 "01JX" all=false`, `discard 44 "" all=true`, `discard 44 "01NOSUCH" all=false`}
	if !slices.Equal(d.acts, want) {
		t.Errorf("acts %q, want %q", d.acts, want)
	}
}
