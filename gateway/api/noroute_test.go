package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/pki"
)

// TestNoRouteIsAnsweredInJSON: a path the local API does not serve, and
// one of its paths asked with a method it does not take, were answered
// by net/http's mux in plain text ("404 page not found", "Method Not
// Allowed"), where api/openapi.yaml has every error in JSON with a code,
// and a client reading that JSON failed on them. They are answered 404
// not_found and 405 method_not_allowed, in JSON naming the request, the
// 405 with the methods the path takes in Allow; the routes are served
// as before.
func TestNoRouteIsAnsweredInJSON(t *testing.T) {
	kind := pki.KindOperator
	srv := deadLetterServer(t, &deadLetterActs{}, &kind)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/api/v1/nosuch", http.StatusNotFound, "not_found", ""},
		{"GET", "/api/v1/records/", http.StatusNotFound, "not_found", ""},
		{"POST", "/api/v2/records", http.StatusNotFound, "not_found", ""},
		{"DELETE", "/api/v1/records", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{"POST", "/api/v1/inbox/01JX", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"GET", "/api/v1/deadletters/requeue", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var eb ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil || resp.StatusCode != tc.status || eb.Code != tc.code || !strings.Contains(eb.Error, tc.method+" "+tc.path) {
				t.Errorf("%d %q; want %d in JSON, code %s, naming the request", resp.StatusCode, body, tc.status, tc.code)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	resp, err := srv.Client().Get(srv.URL + "/api/v1/deadletters")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/deadletters: %d, want 200", resp.StatusCode)
	}
}
