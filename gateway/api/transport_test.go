package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
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

// TestADryRunOverARecordsSizeIsAnswered413: a policy dry run takes one
// record, so a body over contracts.MaxRecordSize, declared or not, is 413
// too_large with the limit, as a submission over its limit is, not a 400.
func TestADryRunOverARecordsSizeIsAnswered413(t *testing.T) {
	big := strings.Repeat(" ", contracts.MaxRecordSize+1)
	for _, declared := range []bool{true, false} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/policy/eval", strings.NewReader(big))
		if !declared {
			r.ContentLength = -1
		}
		_, err := decodePolicyEval(context.Background(), r)
		if status, code := statusOf(err); status != http.StatusRequestEntityTooLarge || code != "too_large" || !strings.Contains(err.Error(), fmt.Sprint(contracts.MaxRecordSize)) {
			t.Errorf("declared %v: %v (%d %s); want 413 too_large saying the limit", declared, err, status, code)
		}
	}
}

// TestABatchWithAnotherMemberIsRefused: a batch is {"records": [...]}
// alone. One with another member (a flag the API does not take) was read
// as a single record, and answered 422 with one result for record 0, its
// problem "schema is required", whatever the batch held; it is refused,
// 400, naming the other member. An object with a schema, or without
// records, is still one record: with records too, its problems name
// records as a member no record has.
func TestABatchWithAnotherMemberIsRefused(t *testing.T) {
	decode := func(body string) (any, error) {
		return decodeSubmit(context.Background(), httptest.NewRequest(http.MethodPost, "/api/v1/records", strings.NewReader(body)))
	}
	for _, body := range []string{
		`{"records":[{},{}],"dry_run":true}`,
		`{"dry_run":true,"records":null}`,
	} {
		_, err := decode(body)
		if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), `"dry_run"`) || !strings.Contains(err.Error(), "records") {
			t.Errorf("%s: %v; want a bad request (400) naming records and \"dry_run\"", body, err)
		}
	}
	for body, want := range map[string]SubmitRequest{
		`{"records":[{},{}]}`:                     {Records: []json.RawMessage{[]byte(`{}`), []byte(`{}`)}},
		`{"schema":"x"}`:                          {Records: []json.RawMessage{[]byte(`{"schema":"x"}`)}, Single: true},
		`{"schema":"x","records":[],"dry_run":1}`: {Records: []json.RawMessage{[]byte(`{"schema":"x","records":[],"dry_run":1}`)}, Single: true},
	} {
		got, err := decode(body)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, %v; want %#v", body, got, err, want)
		}
	}
}
