package node

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/pki"
)

// TestBodiesMustBeSentAsJSON: a POST to the local or registry API whose
// body is not sent as application/json is refused 415 before anything
// reads it, in both APIs' error shapes. Forms, text/plain and bodies with
// no type are what a web page can have a browser send across sites with
// the client certificate it holds, so an operator's or administrator's
// browser must not be able to requeue, submit or sign through one.
func TestBodiesMustBeSentAsJSON(t *testing.T) {
	n, p := singleNode(t)
	flows(t, n, 1)
	nodes := pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}
	for _, c := range []struct {
		kind       pki.Kind
		path, body string
	}{
		{pki.KindOperator, "/api/v1/deadletters/requeue", `{"peer":"44","all":true}`},
		{pki.KindAuditor, "/api/v1/audit/verify", `{}`},
		{pki.KindSystem, "/api/v1/policy/eval", `{}`},
		{pki.KindSystem, "/api/v1/records", `{"records":[]}`},
		{pki.KindAdmin, "/v1/registry/apply", `{}`},
		{pki.KindAdmin, "/v1/registry/join", `{"seeds":["127.0.0.1:1"]}`},
	} {
		hc := p.Client(p.Issue("51", c.kind, "x"), nodes)
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
			req, err := http.NewRequest("POST", "https://"+n.Addr()+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Error, Message, Code string }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || err != nil || body.Code != "unsupported_media_type" ||
				!strings.Contains(body.Error, "application/json") || body.Message != body.Error {
				t.Errorf("POST %s as %q: %d %+v (%v); want 415 unsupported_media_type asking for application/json", c.path, ct, resp.StatusCode, body, err)
			}
		}
	}

	// JSON with a charset passes, as does a POST with no body and no type.
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), nodes)
	for _, c := range []struct{ ct, body string }{{"application/json; charset=utf-8", "{}"}, {"", ""}} {
		req, err := http.NewRequest("POST", "https://"+n.Addr()+"/api/v1/audit/verify", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.ct != "" {
			req.Header.Set("Content-Type", c.ct)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("verify with Content-Type %q and body %q: %d %s; want 200", c.ct, c.body, resp.StatusCode, data)
		}
	}
}

// TestPolicyEvalRefusesABodyThatIsNoRecord: a dry run of a body that is
// not a JSON object is a malformed request (400, as for a submission), not
// a dry run answered 200 with the parse's problems.
func TestPolicyEvalRefusesABodyThatIsNoRecord(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindSystem, "hr"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{
		{"POST", "/api/v1/policy/eval", " ", "JSON object"},
		{"POST", "/api/v1/policy/eval", "not json", "JSON object"},
		{"POST", "/api/v1/policy/eval", "[]", "JSON object"},
		{"POST", "/api/v1/policy/eval", `{"schema":"laborlink.transfer/v1"`, "JSON object"},
	})
	status, eb := callAPI(t, n, hc, "POST", "/api/v1/policy/eval", `{"schema":"laborlink.transfer/v1"}`)
	if status != http.StatusOK {
		t.Errorf("a JSON object that is an invalid record: %d %+v; want 200 with its problems", status, eb)
	}
}

// TestRequeueForTheNodesOwnProvinceIsRefused: nothing is ever sent to the
// node's own province, so requeueing its dead letters is a mistake named
// as such, not "requeued 0".
func TestRequeueForTheNodesOwnProvinceIsRefused(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindOperator, "ops"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{{"POST", "/api/v1/deadletters/requeue", `{"peer":"51","all":true}`, "own province"}})
}
