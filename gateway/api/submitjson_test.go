package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/policy"
)

// TestSubmitResponseJSON checks that the hand-written encoding of a
// submission's answer is byte for byte what encodeJSON writes for it,
// json.Encoder over emptyLists: an empty batch's results are [], as
// api/openapi.yaml says (it wrote null, as json.Encoder does for nil).
func TestSubmitResponseJSON(t *testing.T) {
	tests := []struct {
		name    string
		results []exchange.SubmitResult
	}{
		{"nil", nil},
		{"empty", []exchange.SubmitResult{}},
		{"accepted", []exchange.SubmitResult{{Index: 0, Ref: "51/transfer/T-1", Destination: "44", Outcome: exchange.OutcomeAccepted, EnvelopeID: "01J0000000000000000000000A"}}},
		{"zero", []exchange.SubmitResult{{}}},
		{"invalid", []exchange.SubmitResult{{Index: 3, Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{{Path: "worker.id_number", Message: `must be 18 characters, got "<x>" & more`}, {Message: "unexpected end"}}}}},
		{"denied", []exchange.SubmitResult{{Index: 1, Ref: "51/transfer/T-2", Destination: "33", Outcome: exchange.OutcomeDenied, EnvelopeID: "01J0000000000000000000000B",
			Reasons: []policy.Reason{{Code: "quota_reached", Message: "a quota is used up", Layer: policy.LayerFederation}}}}},
		{"forbidden", []exchange.SubmitResult{{Index: 2, Ref: "44/transfer/T-3", Destination: "51", Outcome: exchange.OutcomeForbidden, Error: "from is 44, but this node speaks for 51"}}},
		{"escaped", []exchange.SubmitResult{{Ref: "51/transfer/<script>&\"\\\n\t\x01\x7f", Destination: "四川", Outcome: "odd\u2028\u2029", EnvelopeID: "bad\xff\xfeutf8", Error: "é"}}},
		{"several", []exchange.SubmitResult{
			{Index: 0, Ref: "51/transfer/T-1", Destination: "44", Outcome: exchange.OutcomeAccepted, EnvelopeID: "01J0000000000000000000000A"},
			{Index: 1, Ref: "51/transfer/T-1", Destination: "44", Outcome: exchange.OutcomeDuplicate, EnvelopeID: "01J0000000000000000000000A"},
			{Index: 2, Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{{Path: "to", Message: "required"}}},
			{Index: 3, Ref: "51/transfer/T-9", Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{}, Reasons: []policy.Reason{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := SubmitResponse{Results: tt.results, single: true}
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(emptyLists(r)); err != nil {
				t.Fatal(err)
			}
			got, err := r.appendJSON([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want.Bytes()...)) {
				t.Errorf("got  %s\nwant %s", got, want.Bytes())
			}
			if bytes.Contains(got, []byte("null")) {
				t.Errorf("got %s; a list is an array, never null", got)
			}
		})
	}
}

// TestSingleSubmitStatus checks the HTTP status a single record's outcome
// gives, and that a batch answers 200 whatever its records' outcomes.
func TestSingleSubmitStatus(t *testing.T) {
	for outcome, want := range map[exchange.Outcome]int{
		exchange.OutcomeAccepted:    http.StatusAccepted,
		exchange.OutcomeDuplicate:   http.StatusOK,
		exchange.OutcomeInvalid:     http.StatusUnprocessableEntity,
		exchange.OutcomeDenied:      http.StatusForbidden,
		exchange.OutcomeForbidden:   http.StatusForbidden,
		exchange.OutcomeUnavailable: http.StatusServiceUnavailable,
	} {
		res := []exchange.SubmitResult{{Outcome: outcome}}
		for single, want := range map[bool]int{true: want, false: http.StatusOK} {
			w := httptest.NewRecorder()
			if err := encodeSubmit(context.Background(), w, SubmitResponse{Results: res, single: single}); err != nil {
				t.Fatal(err)
			}
			if w.Code != want {
				t.Errorf("%s (single %v): status %d, want %d", outcome, single, w.Code, want)
			}
		}
	}
}

// BenchmarkEncodeSubmit answers one accepted record, as every
// single-record submission is answered.
func BenchmarkEncodeSubmit(b *testing.B) {
	r := SubmitResponse{Results: []exchange.SubmitResult{{Index: 0, Ref: "51/transfer/T-000001", Destination: "44", Outcome: exchange.OutcomeAccepted, EnvelopeID: "01J0000000000000000000000A"}}, single: true}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := encodeSubmit(ctx, w, r); err != nil {
			b.Fatal(err)
		}
	}
}
