package peer

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// oldDecodeDeliverResponseBody is decodeDeliverResponseBody as it was
// before it split the results in the body's pass and read ids and statuses
// itself: the reference the fuzz test holds it to.
func oldDecodeDeliverResponseBody(body []byte) (DeliverResponse, error) {
	var resp DeliverResponse
	err := contracts.RawObject(body, func(name string, v json.RawMessage) error {
		switch name {
		case "chain":
			return json.Unmarshal(v, &resp.Chain)
		case "results":
			raws, err := contracts.RawArray(v)
			if err != nil || raws == nil {
				return err
			}
			resp.Results = make([]Result, len(raws))
			for i, raw := range raws {
				if err := oldDecodeResult(raw, &resp.Results[i]); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			return nil
		}
		return fmt.Errorf("unknown member")
	})
	return resp, err
}

func oldDecodeResult(raw []byte, r *Result) error {
	return contracts.RawObject(raw, func(name string, v json.RawMessage) error {
		switch name {
		case "envelope_id":
			return json.Unmarshal(v, &r.EnvelopeID)
		case "status":
			return json.Unmarshal(v, &r.Status)
		case "reasons":
			return json.Unmarshal(v, &r.Reasons)
		case "receipt":
			if string(v) != "null" {
				r.Receipt = v
			}
			return nil
		}
		return fmt.Errorf("unknown member")
	})
}

// FuzzDecodeDeliverResponseBody holds the response decoders (the general
// one and the client's, decodeAnswer) to the one they replaced: the same
// value, or the same error, for any body; and a receipt decoded with the
// answer is the one DecodeReceipt reads from its result.
func FuzzDecodeDeliverResponseBody(f *testing.F) {
	for _, s := range []string{
		`{"results":[{"envelope_id":"01JABCDEFGHJKMNPQRSTVWXYZ0","status":"stored","receipt":{"a":1}}],"chain":["AAE="]}`,
		`{"results":[{"envelope_id":"é\u00e9\n","status":"st\"ored","reasons":["x"],"receipt":null}],"chain":null}`,
		`{"results":null,"chain":[]}`,
		`{"results":[],"chain":[]}`,
		`{"results":{},"chain":[]}`,
		`{"results":[{"status":1}],"chain":"x"}`,
		`{"chain":"x","results":[{"status":1}]}`,
		`{"results":[{"envelope_id":null,"status":"\u0073"}],"extra":1}`,
		`{"extra":1,"results":[{"envelope_id":7}]}`,
		`{"results":[{"envelope_id":"a\xffb","status":"\x7f"}]}`,
		`{"results":[1,{"receipts":{}}],"chain":[]}`,
		`{"results":[],"results":[]}`,
		`{"results":[{"envelope_id":""}]} x`,
	} {
		f.Add([]byte(s))
	}
	for _, b := range answerSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeDeliverResponseBody(body)
		want, wantErr := oldDecodeDeliverResponseBody(body)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: error %v, before %v", body, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read %+v, before %+v", body, got, want)
		}
		// And the client's reader, in one pass where it can be.
		a, err := decodeAnswer(body)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: answer error %v, before %v", body, err, wantErr)
		}
		if !reflect.DeepEqual(a.DeliverResponse, want) {
			t.Fatalf("%q: answer read %+v, before %+v", body, a.DeliverResponse, want)
		}
		checkDecodedReceipts(t, a)
	})
}

// FuzzUnquote holds unquote to json.Unmarshal into a string.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"01JABCDEFGHJKMNPQRSTVWXYZ0"`, `"stored"`, `""`, `"a\"b"`, `"\u00e9"`, `"é"`, "\"\x7f\"", "\"\x1f\"", `null`, `1`, `[]`, `"a\\"`, `"\ud800"`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) || len(v) == 0 || v[0] == ' ' || v[len(v)-1] == ' ' {
			return // unquote is given single values, checked, without space
		}
		got, want := "kept", "kept"
		err := unquote(v, &got)
		wantErr := json.Unmarshal(v, &want)
		if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: %q (%v), json.Unmarshal %q (%v)", v, got, err, want, wantErr)
		}
	})
}
