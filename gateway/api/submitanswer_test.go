package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/policy"
)

// TestReadSubmitAnswer checks the hand-written reader against
// json.Unmarshal on what appendJSON writes: where it reads an answer, it
// reads the same results, and it reads every answer that has nothing
// escaped and no problems or reasons, so the load tool's accepted batches
// do take it.
func TestReadSubmitAnswer(t *testing.T) {
	for name, results := range submitAnswerCases() {
		t.Run(name, func(t *testing.T) {
			data, err := SubmitResponse{Results: results}.appendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			var want SubmitResponse
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got, ok := readSubmitAnswer(data)
			if ok && !reflect.DeepEqual(got, want.Results) {
				t.Errorf("read %s\nas   %#v\nwant %#v", data, got, want.Results)
			}
			if !ok && plainResults(results) {
				t.Errorf("declined %s", data)
			}
		})
	}
}

// TestReadSubmitAnswerDeclines lists answers json.Unmarshal reads, or
// refuses, that are not appendJSON's shape: the reader leaves them to it.
func TestReadSubmitAnswerDeclines(t *testing.T) {
	for _, data := range []string{
		``,
		`{"results":[{"index":0,"outcome":"accepted"}]} `,
		`{"results": []}`,
		`{"Results":[]}`,
		`{"results":[{"outcome":"accepted","index":0}]}`,
		`{"results":[{"index":0,"outcome":"accepted","extra":1}]}`,
		`{"results":[{"index":0,"ref":"a\"b","outcome":"accepted"}]}`,
		`{"results":[{"index":0,"ref":"a` + "\xff" + `","outcome":"accepted"}]}`,
		`{"results":[{"index":0,"ref":"a` + "\n" + `","outcome":"accepted"}]}`,
		`{"results":[{"index":01,"outcome":"accepted"}]}`,
		`{"results":[{"index":1e2,"outcome":"accepted"}]}`,
		`{"results":[{"index":99999999999999999999,"outcome":"accepted"}]}`,
		`{"results":[{"index":-,"outcome":"accepted"}]}`,
		`{"results":[{"index":0}]}`,
		`{"results":[{"index":0,"outcome":"invalid","problems":[{"message":"required"}]}]}`,
		`{"results":[{"index":0,"outcome":"accepted"},]}`,
		`{"results":[,{"index":0,"outcome":"accepted"}]}`,
		`{"results":[{"index":0,"outcome":"accepted"}`,
		`{"results":null}x`,
	} {
		if got, ok := readSubmitAnswer([]byte(data)); ok {
			t.Errorf("read %q as %#v", data, got)
		}
	}
}

// TestClientSubmitReadsEitherWay: Submit returns the same results whether
// the answer is in appendJSON's shape or not, none for the results null an
// earlier release answered an empty batch with, and names the request of
// an answer that is not JSON.
func TestClientSubmitReadsEitherWay(t *testing.T) {
	results := acceptedBatch(3)
	fast, err := SubmitResponse{Results: results}.appendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(SubmitResponse{Results: results}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, answer, wantErr string
		want                  []exchange.SubmitResult
	}{
		{"appendJSON", string(fast), "", results},
		{"indented", string(indented), "", results},
		{"results null", `{"results":null}` + "\n", "", nil},
		{"cut short", `{"results":[{"index":0`, "POST /api/v1/records: the answer is not the expected JSON", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(tt.answer))
			}))
			defer srv.Close()
			c := &Client{base: srv.URL, http: srv.Client()}
			got, err := c.Submit(t.Context(), json.RawMessage(`{}`))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

// FuzzReadSubmitAnswer: whatever the reader accepts, json.Unmarshal reads
// to the same results.
func FuzzReadSubmitAnswer(f *testing.F) {
	for _, results := range [][]exchange.SubmitResult{nil, {}, acceptedBatch(2), {
		{Index: -7, Ref: "四川", Outcome: exchange.OutcomeForbidden, Error: "from is 44"},
		{Index: 3, Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{{Path: "to", Message: "required"}}},
	}} {
		data, err := SubmitResponse{Results: results}.appendJSON(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readSubmitAnswer(data)
		if !ok {
			return
		}
		var want SubmitResponse
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("read %q, which json.Unmarshal refuses: %v", data, err)
		}
		if !reflect.DeepEqual(got, want.Results) {
			t.Fatalf("read %q\nas   %#v\nwant %#v", data, got, want.Results)
		}
	})
}

// BenchmarkReadSubmitAnswer reads the answer to a batch of a hundred
// accepted records, as the load tool does.
func BenchmarkReadSubmitAnswer(b *testing.B) {
	data, err := SubmitResponse{Results: acceptedBatch(100)}.appendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r SubmitResponse
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("readSubmitAnswer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := readSubmitAnswer(data); !ok {
				b.Fatal("declined")
			}
		}
	})
}

// submitAnswerCases are those of TestSubmitResponseJSON and batches of
// generated results of every outcome.
func submitAnswerCases() map[string][]exchange.SubmitResult {
	cases := map[string][]exchange.SubmitResult{
		"nil":      nil,
		"empty":    {},
		"zero":     {{}},
		"accepted": acceptedBatch(100),
		"invalid":  {{Index: 3, Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{{Path: "worker.id_number", Message: `must be 18 characters, got "<x>" & more`}, {Message: "unexpected end"}}}},
		"denied": {{Index: 1, Ref: "51/transfer/T-2", Destination: "33", Outcome: exchange.OutcomeDenied, EnvelopeID: "01J0000000000000000000000B",
			Reasons: []policy.Reason{{Code: "quota_reached", Message: "a quota is used up", Layer: policy.LayerFederation}}}},
		"forbidden":      {{Index: 2, Ref: "44/transfer/T-3", Destination: "51", Outcome: exchange.OutcomeForbidden, Error: "from is 44, but this node speaks for 51"}},
		"escaped":        {{Ref: "51/transfer/<script>&\"\\\n\t\x01\x7f", Destination: "四川", Outcome: "odd\u2028\u2029", EnvelopeID: "bad\xff\xfeutf8", Error: "é"}},
		"empty problems": {{Index: 3, Ref: "51/transfer/T-9", Outcome: exchange.OutcomeInvalid, Problems: []contracts.FieldError{}, Reasons: []policy.Reason{}}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		results := make([]exchange.SubmitResult, rng.IntN(5))
		for j := range results {
			results[j] = randomResult(rng, j)
		}
		cases[fmt.Sprintf("generated %d", i)] = results
	}
	return cases
}

func acceptedBatch(n int) []exchange.SubmitResult {
	results := make([]exchange.SubmitResult, n)
	for i := range results {
		results[i] = exchange.SubmitResult{Index: i, Ref: fmt.Sprintf("51/transfer/T-%06d", i), Destination: "44",
			Outcome: exchange.OutcomeAccepted, EnvelopeID: fmt.Sprintf("01J00000000000000000%06d", i)}
	}
	return results
}

func randomResult(rng *rand.Rand, index int) exchange.SubmitResult {
	outcomes := []exchange.Outcome{exchange.OutcomeAccepted, exchange.OutcomeDuplicate, exchange.OutcomeDenied, exchange.OutcomeInvalid, exchange.OutcomeForbidden, exchange.OutcomeUnavailable}
	res := exchange.SubmitResult{Index: index, Ref: randomString(rng), Destination: randomString(rng),
		Outcome: outcomes[rng.IntN(len(outcomes))], EnvelopeID: randomString(rng)}
	switch res.Outcome {
	case exchange.OutcomeDenied:
		if rng.IntN(2) == 0 {
			res.Reasons = []policy.Reason{{Code: "quota_reached", Message: randomString(rng), Layer: policy.LayerFederation}}
		}
	case exchange.OutcomeInvalid:
		if rng.IntN(2) == 0 {
			res.Problems = []contracts.FieldError{{Path: randomString(rng), Message: randomString(rng)}}
		}
	case exchange.OutcomeForbidden, exchange.OutcomeUnavailable:
		res.Error = randomString(rng)
	}
	return res
}

// randomString is mostly one a reader needs not unescape (empty, plain, not
// ASCII), else one with characters appendJSON escapes.
func randomString(rng *rand.Rand) string {
	plain := []string{"", "51/transfer/T-1", "44", "01J0000000000000000000000A", "四川", "é", "\x7f", " "}
	if rng.IntN(8) > 0 {
		return plain[rng.IntN(len(plain))]
	}
	escaped := []string{"\u2028", `"`, `\`, "\n", "\x01", "<&>", "\xff"}
	return plain[rng.IntN(len(plain))] + escaped[rng.IntN(len(escaped))] + plain[rng.IntN(len(plain))]
}

// plainResults reports whether results have no problems or reasons and no
// string that appendJSON escapes.
func plainResults(results []exchange.SubmitResult) bool {
	for _, r := range results {
		if len(r.Problems) > 0 || len(r.Reasons) > 0 {
			return false
		}
		for _, s := range []string{r.Ref, r.Destination, string(r.Outcome), r.EnvelopeID, r.Error} {
			if string(contracts.AppendJSONString(nil, s)) != `"`+s+`"` {
				return false
			}
		}
	}
	return true
}
