package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/gateway/audit"
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
// 400; each route takes its own parameters. (From a review.) So do the
// other routes that take any: a mistyped ?afer=500 read the inbox from its
// start, ?overdu=true listed every referral.
func TestAuditQueryRefusesAnUnknownParameter(t *testing.T) {
	const all = "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&pair=51:44&between=44,51&agreement=AG-51-44-2026-001&kind=sent&type=transfer&decision=allow"
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
		{"GET /api/v1/inbox", "after=500&limit=10", ""},
		{"GET /api/v1/inbox", "afer=500", "afer"},
		{"GET /api/v1/inbox", "cursor=500", "cursor"},
		{"GET /api/v1/referrals", "status=accepted&overdue=true", ""},
		{"GET /api/v1/referrals", "overdu=true", "overdu"},
		{"GET /api/v1/records", "ref=51/transfer/T-0001", ""},
		{"GET /api/v1/records", "ref=51/transfer/T-0001&id=x", "id"},
		{"GET /api/v1/deadletters", "peer=44", ""},
		{"GET /api/v1/deadletters", "province=44", "province"},
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

// TestAuditQueryBetween: between selects the flows between two provinces,
// both ways, in one query (what `audit reconcile --a --b` reads of each
// node, whose query limit then holds for the two directions together), on
// each route that takes the filters. A malformed one, or one no pair given
// with it can be a direction of, is refused naming it, 400.
func TestAuditQueryBetween(t *testing.T) {
	for _, route := range []string{"GET /api/v1/audit/entries", "GET /api/v1/audit/stats", "GET /api/v1/audit/export"} {
		path := strings.TrimPrefix(route, "GET ")
		t.Run(route, func(t *testing.T) {
			req, err := auditDecoder(t, route)(context.Background(), httptest.NewRequest(http.MethodGet, path+"?between=51,44", nil))
			if err != nil {
				t.Fatalf("between=51,44: %v", err)
			}
			var f audit.Filter
			switch r := req.(type) {
			case AuditQueryRequest:
				f = r.Filter
			case AuditExportRequest:
				f = r.Filter
			}
			if f.Between == nil || *f.Between != (audit.Pair{Origin: "51", Destination: "44"}) || f.Pair != nil {
				t.Errorf("between=51,44 decoded as between %v, pair %v", f.Between, f.Pair)
			}
			for query, want := range map[string]string{
				"between=51,51":               `between "51,51" names province 51 twice`,
				"between=51,4x":               `between "51,4x": want two province codes`,
				"between=51:44":               `between "51:44": want two province codes separated by a comma`,
				"between=51,44&pair=51:33":    "pair 51:33 is neither direction of between 51,44",
				"between=51,44&between=44,51": `"between" is given 2 times`,
			} {
				_, err := auditDecoder(t, route)(context.Background(), httptest.NewRequest(http.MethodGet, path+"?"+query, nil))
				if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v; want a bad request (400) containing %q", query, err, want)
				}
			}
		})
	}
}

// TestOpenAPIListsTheAuditFilters: api/openapi.yaml describes, for each
// route that takes the audit filters, the parameters the route takes: no
// fewer (a filter added to auditFilterParams, such as between, is
// described) and no more; and its kind parameter lists the audit log's
// kinds, so that a kind added to the log is described where auditors
// filter by it.
func TestOpenAPIListsTheAuditFilters(t *testing.T) {
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `yaml:"name"`
				Schema struct {
					Enum []string `yaml:"enum"`
				} `yaml:"schema"`
			} `yaml:"parameters"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range audit.Kinds() {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	for path, extra := range map[string][]string{
		"/api/v1/audit/entries": nil,
		"/api/v1/audit/stats":   nil,
		"/api/v1/audit/export":  {"format"},
	} {
		var described, describedKinds []string
		for _, p := range doc.Paths[path]["get"].Parameters {
			described = append(described, p.Name)
			if p.Name == "kind" {
				describedKinds = slices.Sorted(slices.Values(p.Schema.Enum))
			}
		}
		if !slices.Equal(describedKinds, kinds) {
			t.Errorf("GET %s: kind lists %v, want the audit log's kinds %v", path, describedKinds, kinds)
		}
		want := slices.Sorted(slices.Values(slices.Concat(auditFilterParams, extra)))
		if slices.Sort(described); !slices.Equal(described, want) {
			t.Errorf("GET %s: api/openapi.yaml describes parameters %v; the route takes %v", path, described, want)
		}
	}
}

// TestAuditProofTakesIndexOrOld: a proof request names index (inclusion)
// or old (consistency), not both; with both it was answered with a
// consistency proof and the index ignored, which the caller would check
// as the inclusion proof it asked for. It is refused, 400, naming both.
func TestAuditProofTakesIndexOrOld(t *testing.T) {
	decode := auditDecoder(t, "GET /api/v1/audit/proof")
	_, err := decode(context.Background(), httptest.NewRequest(http.MethodGet, "/api/v1/audit/proof?size=10&index=3&old=4", nil))
	if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), "index") || !strings.Contains(err.Error(), "old") {
		t.Errorf("index and old: %v; want a bad request (400) naming both", err)
	}
	for query, want := range map[string]AuditProofRequest{
		"size=10&index=3": {Index: 3, Size: 10},
		"size=10&old=4":   {Old: 4, Size: 10, Consistency: true},
	} {
		req, err := decode(context.Background(), httptest.NewRequest(http.MethodGet, "/api/v1/audit/proof?"+query, nil))
		if err != nil || req.(AuditProofRequest) != want {
			t.Errorf("%s: %+v, %v; want %+v", query, req, err, want)
		}
	}
}
