package api

import (
	"context"
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
