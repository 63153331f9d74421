package peer

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// TestCodecMatchesEncodingJSON holds the peer API's hand-written bodies to
// encoding/json: the same bytes written, the same values read back.
func TestCodecMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		return []string{"", "01JABCDEFGHJKMNPQRSTVWXYZ0", `quote " and \ <&>`, "é\u2028\n\x01", "stored", "bad \xff utf-8", "x/y"}[rng.IntN(7)]
	}
	// Raw envelopes and receipts are written as they are, where
	// json.Marshal would also escape <, > and & inside them: the same JSON,
	// not the same bytes; the raw values here have none.
	raw := func() json.RawMessage {
		return json.RawMessage([]string{`{"id":"x","payload":{"a":[1,2]}}`, `{"b":"\u003c"}`, `null`, `[]`, `"s"`}[rng.IntN(5)])
	}
	for i := range 2000 {
		req := DeliverRequest{}
		resp := DeliverResponse{}
		if i%7 != 0 {
			for range rng.IntN(4) {
				req.Chain = append(req.Chain, []byte(str()))
				resp.Chain = append(resp.Chain, []byte(str()))
			}
			req.Envelopes = []json.RawMessage{}
			resp.Results = []Result{}
			for range rng.IntN(5) {
				req.Envelopes = append(req.Envelopes, raw())
				r := Result{EnvelopeID: str(), Status: Status(str())}
				if rng.IntN(2) == 0 {
					r.Reasons = []string{str(), str()}[:rng.IntN(3)]
				}
				if rng.IntN(2) == 0 {
					r.Receipt = raw()
					if string(r.Receipt) == "null" {
						r.Receipt = nil
					}
				}
				resp.Results = append(resp.Results, r)
			}
		}
		want, _ := json.Marshal(req)
		if got := req.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("request %d:\n got %s\nwant %s", i, got, want)
		}
		back, err := decodeDeliverBody(want)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var ref DeliverRequest
		json.Unmarshal(want, &ref)
		// None of these envelopes is one: none is decoded as the body is read.
		if len(back.Decoded) != len(back.Envelopes) || slices.ContainsFunc(back.Decoded, func(d contracts.DecodedEnvelope) bool { return d.Env != nil }) {
			t.Fatalf("request %d: decoded %+v for %d envelopes", i, back.Decoded, len(back.Envelopes))
		}
		back.Decoded = nil
		if !reflect.DeepEqual(back, ref) {
			t.Fatalf("request %d: read back %+v, encoding/json %+v", i, back, ref)
		}

		want, _ = json.Marshal(resp)
		if got := resp.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("response %d:\n got %s\nwant %s", i, got, want)
		}
		rback, err := decodeDeliverResponseBody(want)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		var rref DeliverResponse
		json.Unmarshal(want, &rref)
		if !reflect.DeepEqual(rback, rref) {
			t.Fatalf("response %d: read back %+v, encoding/json %+v", i, rback, rref)
		}
		if a, err := decodeAnswer(want); err != nil || !reflect.DeepEqual(a.DeliverResponse, rref) {
			t.Fatalf("response %d (%v): answer read %+v, encoding/json %+v", i, err, a.DeliverResponse, rref)
		}
	}
}

func TestCodecNamesWhatIsWrong(t *testing.T) {
	for body, want := range map[string]string{
		`{"chain":[],"envelopes":{}}`:              "envelopes: ",
		`{"chain":"x","envelopes":[]}`:             "chain: json: cannot unmarshal string",
		`{"chain":[],"envelopes":[],"extra":1}`:    "extra: unknown member",
		`{"chain":[],"envelopes":[1,}`:             "invalid character",
		`{"chain":[],"envelopes":[],"chain":[]}`:   `duplicate member "chain"`,
		`{"results":[{"status":1}],"chain":[]}`:    "results: [0]: status: json: cannot unmarshal number",
		`{"results":[{"receipts":{}}],"chain":[]}`: "results: [0]: receipts: unknown member",
	} {
		var err error
		if strings.HasPrefix(body, `{"results"`) {
			_, err = decodeDeliverResponseBody([]byte(body))
		} else {
			_, err = decodeDeliverBody([]byte(body))
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}

// appendJSON writes the request as json.Marshal would; the envelopes are
// written as they are, since the sender encoded them. Nodes write requests
// with encodeBatch: this is the reference the tests hold it to.
func (r DeliverRequest) appendJSON(b []byte) []byte {
	n := chainLen(r.Chain)
	for _, e := range r.Envelopes {
		n += len(e) + 1
	}
	b = slices.Grow(b, n)
	b = append(b, `{"chain":`...)
	b = appendChain(b, r.Chain)
	b = append(b, `,"envelopes":`...)
	if r.Envelopes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range r.Envelopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// TestDeliverBodyDecodesEnvelopes: the envelopes of a delivery are decoded
// with their records as the body is read, each as it decodes alone, and
// what is not an envelope is left for the receiver to decode alone.
func TestDeliverBodyDecodesEnvelopes(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	req := DeliverRequest{Chain: [][]byte{[]byte("leaf")}}
	for range 3 {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Envelopes = append(req.Envelopes, raw)
	}
	req.Envelopes = append(req.Envelopes, json.RawMessage(`{"id":1}`))
	back, err := decodeDeliverBody(req.appendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Decoded) != len(req.Envelopes) {
		t.Fatalf("decoded %d for %d envelopes", len(back.Decoded), len(req.Envelopes))
	}
	for i, d := range back.Decoded[:3] {
		env, rec, err := contracts.DecodeEnvelopeRecord(req.Envelopes[i])
		if err != nil {
			t.Fatal(err)
		}
		if d.Env == nil || !reflect.DeepEqual(d.Env, env) || !reflect.DeepEqual(d.Rec, rec) {
			t.Errorf("envelope %d: decoded %+v, alone %+v", i, d.Env, env)
		}
	}
	if d := back.Decoded[3]; d.Env != nil || d.Rec != nil {
		t.Errorf("a malformed envelope decoded as %+v", d)
	}
}
