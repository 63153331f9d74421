package peer

import (
	"os"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/httpbody"
)

// TestOpenAPIListsTheDeliverStatuses: each status the deliver endpoint
// answers a batch it does not take with, but for 500 and 401 (a caller
// without a certificate, which the whole API refuses alike), is one
// api/openapi.yaml lists for it, so that a peer's developer knows which
// the origin sends again (503) and which it does not.
func TestOpenAPIListsTheDeliverStatuses(t *testing.T) {
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	listed := doc.Paths[Path]["post"].Responses
	for _, err := range []error{ErrBadBatch, auth.ErrForbidden, httpbody.ErrTooLarge, ErrUnavailable} {
		status := statusOf(err)
		if _, ok := listed[strconv.Itoa(status)]; !ok {
			t.Errorf("POST %s answers %d (%v); api/openapi.yaml lists only %v", Path, status, err, listed)
		}
	}
}
