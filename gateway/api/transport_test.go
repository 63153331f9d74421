package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/httpbody"
)

// TestASubmissionOverTheLimitIsAnswered413: a body declaring more than
// MaxBody is refused before it is read, as too large, with the limit and
// what to do in the error; the answer is 413 too_large, which tells a
// system to send fewer records at once, not to fix them.
func TestASubmissionOverTheLimitIsAnswered413(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/records", strings.NewReader(`{"records":[]}`))
	r.ContentLength = MaxBody + 1
	_, err := decodeSubmit(context.Background(), r)
	if !errors.Is(err, httpbody.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(MaxBody)) || !strings.Contains(err.Error(), "send fewer") {
		t.Fatalf("decodeSubmit: %v; want ErrTooLarge saying the limit and to send fewer", err)
	}
	if status, code := statusOf(err); status != http.StatusRequestEntityTooLarge || code != "too_large" {
		t.Errorf("statusOf(%v) = %d %s, want 413 too_large", err, status, code)
	}
}
