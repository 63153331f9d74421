package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// auditDecoder is the request decoder the local API serves pattern with.
func auditDecoder(t *testing.T, pattern string) func(context.Context, *http.Request) (any, error) {
	t.Helper()
	for _, r := range routes(Set{}) {
		if r.pattern == pattern {
			return r.decode
		}
	}
	t.Fatalf("no route %s", pattern)
	return nil
}

// TestAuditQueryRefusesAnUnknownParameter: the audit routes took their
// filters as query parameters and ignored any they did not know, so
// ?decison=deny (or ?kinds=denied, ?pairs=51:44) listed, counted or
// exported the whole log as if unfiltered, where a mistyped kind value is
// refused by name. An unknown or repeated parameter is refused by name,
// 400; each route takes its own parameters. (From a review.)
func TestAuditQueryRefusesAnUnknownParameter(t *testing.T) {
	const all = "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&pair=51:44&agreement=AG-51-44-2026-001&kind=sent&type=transfer&decision=allow"
	for _, tc := range []struct {
		route, query string
		refused      string // the parameter named; "" when accepted
	}{
		{"GET /api/v1/audit/entries", "decison=deny", "decison"},
		{"GET /api/v1/audit/entries", "kinds=denied", "kinds"},
		{"GET /api/v1/audit/entries", "pairs=51:44", "pairs"},
		{"GET /api/v1/audit/entries", "agreement_id=AG-51-44-2026-001", "agreement_id"},
		{"GET /api/v1/audit/entries", "kind=sent&kind=denied", "kind"},
		{"GET /api/v1/audit/entries", "format=csv", "format"},
		{"GET /api/v1/audit/entries", "limit=1000", "limit"},
		{"GET /api/v1/audit/entries", all, ""},
		{"GET /api/v1/audit/entries", "", ""},
		{"GET /api/v1/audit/stats", "decison=deny", "decison"},
		{"GET /api/v1/audit/stats", all, ""},
		{"GET /api/v1/audit/export", "format=csv&kinds=denied", "kinds"},
		{"GET /api/v1/audit/export", "format=csv&format=jsonl", "format"},
		{"GET /api/v1/audit/export", all + "&format=csv", ""},
		{"GET /api/v1/audit/raw", "start=0&end=10", ""},
		{"GET /api/v1/audit/raw", "start=0&end=10&limit=5", "limit"},
		{"GET /api/v1/audit/proof", "size=10&index=3", ""},
		{"GET /api/v1/audit/proof", "size=10&old=4", ""},
		{"GET /api/v1/audit/proof", "size=10&idx=3", "idx"},
		{"GET /api/v1/audit/reconcile", "with=44&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", ""},
		{"GET /api/v1/audit/reconcile", "with=44&form=2026-03-01T00:00:00Z", "form"},
	} {
		t.Run(tc.route+"?"+tc.query, func(t *testing.T) {
			path := strings.TrimPrefix(tc.route, "GET ")
			r := httptest.NewRequest(http.MethodGet, path+"?"+tc.query, nil)
			_, err := auditDecoder(t, tc.route)(context.Background(), r)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), `"`+tc.refused+`"`)):
				t.Errorf("err %v; want refused naming %q", err, tc.refused)
			case tc.refused != "" && !errors.Is(err, errBadRequest):
				t.Errorf("err %v is no bad request (400)", err)
			}
		})
	}
}
