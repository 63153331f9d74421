package peer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// signedAnswer is a destination's answer to a batch of n, as it writes
// one: a result and a batch-signed receipt per envelope, stored or (every
// seventh) duplicate, and the chain. every, when above 0, makes every
// every-th result a rejection with reasons and no receipt, and the one
// after it deferred.
func signedAnswer(tb testing.TB, n, every int) DeliverResponse {
	tb.Helper()
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	rs := make([]*contracts.Receipt, n)
	for i := range rs {
		env := &contracts.Envelope{ID: ulid.Make().String(), PayloadDigest: fmt.Sprintf("sha256:%064x", i)}
		status := contracts.ReceiptStored
		if i%7 == 3 {
			status = contracts.ReceiptDuplicate
		}
		rs[i] = contracts.NewReceipt(env, status, "", now)
	}
	if err := contracts.SignReceipts(rs, testKey(tb), "laborlink://node/44/p44"); err != nil {
		tb.Fatal(err)
	}
	resp := DeliverResponse{Chain: [][]byte{make([]byte, 600), make([]byte, 500)}, Results: []Result{}}
	for i, r := range rs {
		switch {
		case every > 0 && i%every == every-1:
			resp.Results = append(resp.Results, Result{EnvelopeID: r.EnvelopeID, Status: StatusRejected, Reasons: []string{"policy.denied", "scope.transfer"}})
			continue
		case every > 0 && i%every == 0 && i > 0:
			resp.Results = append(resp.Results, Result{EnvelopeID: r.EnvelopeID, Status: StatusDeferred, Reasons: []string{"registry.lagging"}})
			continue
		}
		raw, err := r.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		resp.Results = append(resp.Results, Result{EnvelopeID: r.EnvelopeID, Status: Status(r.Status), Receipt: raw})
	}
	return resp
}

// TestReadAnswerReadsWhatDestinationsWrite: an answer as destinations
// write it is read in one pass (readAnswer takes it), to the response the
// general decoder reads, with each stored or duplicate result's receipt
// decoded as the client would decode it.
func TestReadAnswerReadsWhatDestinationsWrite(t *testing.T) {
	for _, tt := range []struct {
		name string
		resp DeliverResponse
	}{
		{"stored and duplicate", signedAnswer(t, 100, 0)},
		{"with rejected and deferred", signedAnswer(t, 30, 4)},
		{"one", signedAnswer(t, 1, 0)},
		{"none", DeliverResponse{Results: []Result{}, Chain: [][]byte{{1, 2, 3}}}},
		{"no chain", DeliverResponse{Results: signedAnswer(t, 3, 2).Results}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.resp.appendJSON(nil)
			a, ok := readAnswer(body)
			if !ok {
				t.Fatalf("readAnswer did not take the %d bytes", len(body))
			}
			want, err := decodeDeliverResponseBody(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.DeliverResponse, want) {
				t.Fatalf("read %+v\nwant %+v", a.DeliverResponse, want)
			}
			checkDecodedReceipts(t, a)
			decoded := 0
			for _, r := range a.receipts {
				if r != nil {
					decoded++
				}
			}
			stored := 0
			for _, res := range tt.resp.Results {
				if len(res.Receipt) > 0 {
					stored++
				}
			}
			if decoded != stored {
				t.Errorf("%d receipts decoded, %d stored or duplicate", decoded, stored)
			}
		})
	}
}

// checkDecodedReceipts fails unless every receipt a holds decoded is the
// one DecodeReceipt reads from its result, for a stored or duplicate one.
func checkDecodedReceipts(t *testing.T, a answer) {
	t.Helper()
	if a.receipts == nil {
		return
	}
	if len(a.receipts) != len(a.Results) {
		t.Fatalf("%d receipts for %d results", len(a.receipts), len(a.Results))
	}
	for i, r := range a.receipts {
		if r == nil {
			continue
		}
		res := a.Results[i]
		if res.Status != StatusStored && res.Status != StatusDuplicate {
			t.Fatalf("result %d: a receipt decoded for status %q", i, res.Status)
		}
		want, err := contracts.DecodeReceipt(res.Receipt)
		if err != nil || !reflect.DeepEqual(r, want) {
			t.Fatalf("result %d: decoded %+v, DecodeReceipt %+v (%v)", i, r, want, err)
		}
	}
}

// TestReadAnswerLeavesTheRest: bodies that differ from what destinations
// write, valid or not, are left to the general decoder; those that are
// wrong are refused with its errors.
func TestReadAnswerLeavesTheRest(t *testing.T) {
	resp := signedAnswer(t, 3, 0)
	body := string(resp.appendJSON(nil))
	receipt := string(resp.Results[0].Receipt)
	for name, b := range map[string]string{
		"space":                 " " + body,
		"trailing space":        body + " ",
		"members swapped":       `{"chain":null,"results":[]}`,
		"unknown member":        `{"results":[{"envelope_id":"a","status":"stored","x":1}],"chain":null}`,
		"escaped id":            `{"results":[{"envelope_id":"\u0061","status":"stored"}],"chain":null}`,
		"receipt not a receipt": `{"results":[{"envelope_id":"a","status":"stored","receipt":{"a":1}}],"chain":null}`,
		"receipt and more":      `{"results":[{"envelope_id":"a","status":"stored","receipt":` + receipt + `,"receipt":null}],"chain":null}`,
		"receipt with space":    `{"results":[{"envelope_id":"a","status":"stored","receipt":` + receipt + ` }],"chain":null}`,
		"reasons escaped":       `{"results":[{"envelope_id":"a","status":"rejected","reasons":["\n"]}],"chain":null}`,
		"chain not base64":      `{"results":[],"chain":["!"]}`,
		"chain spaced":          `{"results":[],"chain": []}`,
		"results null":          `{"results":null,"chain":[]}`,
		"results repeated":      `{"results":[],"results":[],"chain":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, ok := readAnswer([]byte(b)); ok {
				t.Fatalf("readAnswer took %s", b)
			}
			a, err := decodeAnswer([]byte(b))
			want, wantErr := decodeDeliverResponseBody([]byte(b))
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(a.DeliverResponse, want) || a.receipts != nil {
				t.Fatalf("decodeAnswer %+v (%v), general decoder %+v (%v)", a, err, want, wantErr)
			}
		})
	}
}

// answerSeeds are fuzz seeds written as destinations write answers, with
// real receipts, and each cut or changed in one place.
func answerSeeds(tb testing.TB) [][]byte {
	body := signedAnswer(tb, 3, 3).appendJSON(nil)
	seeds := [][]byte{body, signedAnswer(tb, 1, 0).appendJSON(nil)}
	raw := signedAnswer(tb, 1, 0).Results[0].Receipt
	for _, edit := range []func([]byte) []byte{
		func(b []byte) []byte { return b[:len(b)/2] },
		func(b []byte) []byte { b[len(b)/3] = '"'; return b },
		func(b []byte) []byte { return append(b, ' ') },
		func(b []byte) []byte {
			return fmt.Appendf(nil, `{"results":[{"envelope_id":"x","status":"stored","receipt":%s},{"envelope_id":"y","status":"deferred","receipt":%s}],"chain":null}`, raw, raw)
		},
	} {
		seeds = append(seeds, edit(append([]byte(nil), body...)))
	}
	return seeds
}

// sentFor is the batch resp answers, as the origin queued it: an envelope
// for each result, with the payload digest its receipt repeats (or a
// zero one for a result without a receipt) after a payload of about the
// usual size.
func sentFor(tb testing.TB, resp DeliverResponse) []store.Queued {
	tb.Helper()
	payload := `{"note":"` + strings.Repeat("x", 1500) + `"}`
	sent := make([]store.Queued, len(resp.Results))
	for i, res := range resp.Results {
		digest := "sha256:" + strings.Repeat("0", 64)
		if len(res.Receipt) > 0 {
			r, err := contracts.DecodeReceipt(res.Receipt)
			if err != nil {
				tb.Fatal(err)
			}
			digest = r.PayloadDigest
		}
		env := fmt.Sprintf(`{"id":%q,"payload":%s,"payload_digest":%q,"signer":"laborlink://node/51/p51"}`, res.EnvelopeID, payload, digest)
		sent[i] = store.Queued{EnvelopeID: res.EnvelopeID, Envelope: []byte(env)}
	}
	return sent
}
