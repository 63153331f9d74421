package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSmallBodiesAreReadStrictly: the requeue, discard and verify bodies
// are small JSON objects; one too large is 413 whatever it holds, and
// unknown members or trailing data are refused by name, not taken in part.
func TestSmallBodiesAreReadStrictly(t *testing.T) {
	decoders := map[string]struct {
		decode func(context.Context, *http.Request) (any, error)
		good   string // a body it takes, without its closing brace
	}{
		"requeue": {decodeRequeue, `{"peer":"44","all":true`},
		"discard": {decodeDiscard, `{"peer":"44","all":true`},
		"verify":  {decodeAuditVerify, `{"earlier":""`},
	}
	tests := []struct {
		name, rest, want string
		status           int
	}{
		{"too large", `,"x":"` + strings.Repeat("a", 70<<10) + `"}`, "too large", http.StatusRequestEntityTooLarge},
		{"unknown member", `,"envelope":"E1"}`, `unknown field "envelope"`, http.StatusBadRequest},
		{"trailing data", `}{}`, "trailing data", http.StatusBadRequest},
	}
	for name, d := range decoders {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(d.good+tt.rest))
				_, err := d.decode(context.Background(), r)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one saying %q", err, tt.want)
				}
				if status, _ := statusOf(err); status != tt.status {
					t.Errorf("status %d, want %d", status, tt.status)
				}
			})
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"peer":"44","all":true}`))
	if req, err := decodeRequeue(context.Background(), r); err != nil || !req.(RequeueRequest).All {
		t.Errorf("a good requeue body: %+v, %v", req, err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"peer":"44","all":true,"through":3}`))
	if req, err := decodeDiscard(context.Background(), r); err != nil || !req.(DiscardRequest).All || *req.(DiscardRequest).Through != 3 {
		t.Errorf("a good discard body: %+v, %v", req, err)
	}
}

// TestBodyRoutesRefuseAQueryParameter: the routes that take a body take
// nothing from the query, and ignored what one held: POST
// /api/v1/audit/verify?earlier=<head> verified the log without the earlier
// head, and its 200 read as "consistent with the head I kept"; a requeue
// ?through=17 of all requeued every dead letter. A query parameter on them
// is refused by name, 400, saying that the body takes it.
func TestBodyRoutesRefuseAQueryParameter(t *testing.T) {
	for _, tc := range []struct {
		route, body, query string
	}{
		{"POST /api/v1/audit/verify", `{}`, "earlier=head"},
		{"POST /api/v1/deadletters/requeue", `{"peer":"44","all":true}`, "through=17"},
		{"POST /api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01JX"}`, "all=true"},
		{"POST /api/v1/records", `{"records":[{}]}`, "dry_run=true"},
		{"POST /api/v1/policy/eval", `{}`, "record=x"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			path := strings.TrimPrefix(tc.route, "POST ")
			decode := auditDecoder(t, tc.route)
			if _, err := decode(context.Background(), httptest.NewRequest(http.MethodPost, path, strings.NewReader(tc.body))); err != nil {
				t.Fatalf("without a query: %v", err)
			}
			name, _, _ := strings.Cut(tc.query, "=")
			_, err := decode(context.Background(), httptest.NewRequest(http.MethodPost, path+"?"+tc.query, strings.NewReader(tc.body)))
			if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), "body") {
				t.Errorf("?%s: %v; want a bad request (400) naming %q and the body", tc.query, err, name)
			}
		})
	}
}
