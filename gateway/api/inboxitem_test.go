package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInboxItemTakesFrom: GET /api/v1/inbox/{id} finds the envelope the
// province named by from sent under the id (ids are each origin's own);
// a from that is no province code, another parameter, or from twice is
// refused, 400, naming it.
func TestInboxItemTakesFrom(t *testing.T) {
	decode := auditDecoder(t, "GET /api/v1/inbox/{id}")
	get := func(query string) (any, error) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/inbox/01JX"+query, nil)
		r.SetPathValue("id", "01JX")
		return decode(context.Background(), r)
	}
	for query, want := range map[string]InboxItemRequest{
		"":         {ID: "01JX"},
		"?from=44": {ID: "01JX", From: "44"},
		"?from=":   {ID: "01JX"},
	} {
		if got, err := get(query); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", query, got, err, want)
		}
	}
	for query, want := range map[string]string{
		"?from=4":          `from "4" is not a province code`,
		"?from=Guangdong":  `from "Guangdong" is not a province code`,
		"?origin=44":       `unknown query parameter "origin"`,
		"?from=44&from=33": `query parameter "from" is given 2 times`,
	} {
		if _, err := get(query); !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want a bad request (400) saying %q", query, err, want)
		}
	}
}
