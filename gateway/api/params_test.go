package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryRouteRefusesAnUnknownParameter: every route of the local API
// refuses a query parameter it does not take, 400 naming it, rather than
// serve the request as if it were not there. A record by envelope id,
// status and policy, which take none, ignored any (?from=44 on a record,
// ?revision=3 on policy answered the policy in force as if it were that
// revision).
func TestEveryRouteRefusesAnUnknownParameter(t *testing.T) {
	for _, r := range routes(Set{}) {
		t.Run(r.pattern, func(t *testing.T) {
			method, path, _ := strings.Cut(r.pattern, " ")
			req := httptest.NewRequest(method, strings.ReplaceAll(path, "{id}", "01JX")+"?bogus=1", strings.NewReader(`{}`))
			req.SetPathValue("id", "01JX")
			_, err := r.decode(context.Background(), req)
			if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), `"bogus"`) {
				t.Errorf("?bogus=1: %v; want a bad request (400) naming \"bogus\"", err)
			}
		})
	}
}
