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

// deadLetterActs is a node's dead letters as the API sees them: those
// listed are listed, each act is noted with the store's pick, and an
// unknown envelope id is not found. A discard leaves one dead letter.
type deadLetterActs struct {
	listed []store.DeadLetter
	acts   []string
}

func (d *deadLetterActs) DeadLetters(string) ([]store.DeadLetter, error) { return d.listed, nil }

func (d *deadLetterActs) Requeue(_ context.Context, r RequeueRequest) (int, error) {
	return d.act("requeue", r)
}

func (d *deadLetterActs) Discard(_ context.Context, r DiscardRequest) (DiscardResponse, error) {
	n, err := d.act("discard", RequeueRequest(r))
	return DiscardResponse{Discarded: n, Left: 1}, err
}

func (d *deadLetterActs) act(what string, r RequeueRequest) (int, error) {
	pick := r.Pick()
	through := fmt.Sprint(pick.Through)
	if pick.Through == store.EveryBurial {
		through = "every"
	}
	d.acts = append(d.acts, fmt.Sprintf("%s %s %q through=%s", what, r.Peer, pick.EnvelopeID, through))
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
// never requeues, and the requeue route never discards. A discard of all
// must say through, bounding it to what a listing showed, and says how
// many are left; a requeue of all may.
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
		{"one", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX"}`, 200, `{"discarded":1,"left":1}`, `discard 44 "01JX" through=0`},
		{"all through", pki.KindAdmin, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":17}`, 200, `{"discarded":2,"left":1}`, `discard 44 "" through=17`},
		{"all through 0", pki.KindAdmin, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":0}`, 200, `{"discarded":2,"left":1}`, `discard 44 "" through=0`},
		{"all without through", pki.KindAdmin, "/api/v1/deadletters/discard", `{"peer":"44","all":true}`, 400, "all needs through, the through of the list of the dead letters you mean to discard (GET /api/v1/deadletters?peer=44)", ""},
		{"through with id", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX","through":17}`, 400, "through bounds all: it goes with all, not with envelope_id", ""},
		{"through not a position", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":-1}`, 400, "RequeueRequest.through", ""},
		{"requeue stays requeue", pki.KindOperator, "/api/v1/deadletters/requeue", `{"peer":"44","all":true}`, 200, `{"requeued":2}`, `requeue 44 "" through=every`},
		{"requeue all through", pki.KindOperator, "/api/v1/deadletters/requeue", `{"peer":"44","all":true,"through":17}`, 200, `{"requeued":2}`, `requeue 44 "" through=17`},
		{"unknown id", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01NOSUCH"}`, 404, "no dead letter 01NOSUCH", `discard 44 "01NOSUCH" through=0`},
		{"neither id nor all", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44"}`, 400, "name the envelope_id to discard, or set all to discard every dead letter for 44", ""},
		{"both id and all", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX","all":true,"through":1}`, 400, "envelope_id and all exclude each other", ""},
		{"bad peer", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"4","all":true,"through":1}`, 400, "peer must be a province code", ""},
		{"unknown member", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":1,"force":true}`, 400, `unknown field \"force\"`, ""},
		{"member in another case", pki.KindOperator, "/api/v1/deadletters/discard", `{"Peer":"44","all":true,"through":1}`, 400, `Peer: unknown field; member names are case-sensitive: did you mean \"peer\"?`, ""},
		{"member given twice", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":1,"peer":"31"}`, 400, `duplicate member \"peer\"`, ""},
		{"own province", pki.KindOperator, "/api/v1/deadletters/discard", `{"peer":"51","all":true,"through":1}`, 400, "51, this node's own province", ""},
		{"system", pki.KindSystem, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":1}`, 403, "system certificates may not do this", ""},
		{"auditor", pki.KindAuditor, "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":1}`, 403, "auditor certificates may not do this", ""},
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

// TestDeadLetterListOfTheOwnProvinceIsRefused: nothing is ever sent to
// the node's own province, so its list is refused as its requeue and
// discard are, rather than answered empty, which reads as "none is dead".
func TestDeadLetterListOfTheOwnProvinceIsRefused(t *testing.T) {
	d := &deadLetterActs{listed: []store.DeadLetter{{EnvelopeID: "01JX", Burial: 3}}}
	as := pki.KindOperator
	srv := deadLetterServer(t, d, &as)
	for peer, want := range map[string]struct {
		status int
		body   string
	}{
		"44": {200, `"through":3`},
		"51": {400, "peer is 51, this node's own province"},
	} {
		resp, err := srv.Client().Get(srv.URL + "/api/v1/deadletters?peer=" + peer)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.status || !strings.Contains(string(b), want.body) {
			t.Errorf("list of %s: %d %s, want %d with %q", peer, resp.StatusCode, b, want.status, want.body)
		}
	}
}

// TestClientDiscard: the client lists dead letters with the through of
// the list, the latest burial in it, and posts the discard of one dead
// letter, or of all of a peer's through a list's, to the discard route,
// and reads how many went and are left, or the node's 404.
func TestClientDiscard(t *testing.T) {
	d := &deadLetterActs{listed: []store.DeadLetter{{EnvelopeID: "01JA", Peer: "44"}, {EnvelopeID: "01JB", Peer: "44", Burial: 9}, {EnvelopeID: "01JC", Peer: "44", Burial: 7}}}
	as := pki.KindOperator
	srv := deadLetterServer(t, d, &as)
	c := &Client{base: srv.URL, http: srv.Client()}
	list, err := c.DeadLetters(t.Context(), "44")
	if err != nil || len(list.DeadLetters) != 3 || list.Through != 9 {
		t.Fatalf("DeadLetters = %+v, %v; want the three through 9", list, err)
	}
	if got, err := c.Discard(t.Context(), DiscardRequest{Peer: "44", EnvelopeID: "01JX"}); err != nil || got != (DiscardResponse{Discarded: 1, Left: 1}) {
		t.Errorf("Discard one = %+v, %v", got, err)
	}
	if got, err := c.Discard(t.Context(), DiscardRequest{Peer: "44", All: true, Through: &list.Through}); err != nil || got != (DiscardResponse{Discarded: 2, Left: 1}) {
		t.Errorf("Discard all = %+v, %v", got, err)
	}
	if _, err := c.Discard(t.Context(), DiscardRequest{Peer: "44", EnvelopeID: "01NOSUCH"}); err == nil || !strings.Contains(err.Error(), "no dead letter 01NOSUCH") {
		t.Errorf("Discard of an unknown id: %v, want the node's not found", err)
	}
	want := []string{`discard 44 "01JX" through=0`, `discard 44 "" through=9`, `discard 44 "01NOSUCH" through=0`}
	if !slices.Equal(d.acts, want) {
		t.Errorf("acts %q, want %q", d.acts, want)
	}
	d.listed = nil
	if list, err := c.DeadLetters(t.Context(), "44"); err != nil || len(list.DeadLetters) != 0 || list.Through != 0 {
		t.Errorf("DeadLetters of none = %+v, %v; want none through 0", list, err)
	}
}
