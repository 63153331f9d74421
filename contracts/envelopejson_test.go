package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// The hand-written envelope and receipt decoders are held to encoding/json
// (contracts.DecodeStrictPlain, the decoding they replaced): the same
// verdict on every document and, when both accept it, the same value. The
// hand-written encoders are held to json.Marshal byte for byte.

// decodeEnvelopeReference is DecodeEnvelope as it was: encoding/json, Check,
// and the payload canonicalized again.
func decodeEnvelopeReference(data []byte) (*contracts.Envelope, error) {
	if len(data) > 2*contracts.MaxRecordSize {
		return nil, errors.New("too large")
	}
	e := new(contracts.Envelope)
	if err := contracts.DecodeStrictPlain(data, e); err != nil {
		return nil, err
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	canon, err := contracts.CanonicalizeJSON(e.Payload)
	if err != nil {
		return nil, err
	}
	e.Payload = canon
	return e, nil
}

// decodeReceiptReference is DecodeReceipt as it was.
func decodeReceiptReference(data []byte) (*contracts.Receipt, error) {
	if len(data) > contracts.MaxRecordSize {
		return nil, errors.New("too large")
	}
	r := new(contracts.Receipt)
	if err := contracts.DecodeStrictPlain(data, r); err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// sameResult fails t unless both decodings erred, or neither did and they
// agree on the value.
func sameResult[T any](t *testing.T, what string, data []byte, got T, err error, want T, werr error) {
	t.Helper()
	switch {
	case err != nil && werr != nil:
		var de *contracts.DecodeError
		if !errors.As(err, &de) && !strings.HasPrefix(err.Error(), "envelope") && !strings.HasPrefix(err.Error(), "receipt") {
			t.Errorf("%s: error %q says neither where nor what", what, err)
		}
	case err != nil:
		t.Fatalf("%s rejects what encoding/json accepts (%v):\n%q", what, err, data)
	case werr != nil:
		t.Fatalf("%s accepts what encoding/json rejects (%v):\n%q", what, werr, data)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s decodes differently:\n got %+v\nwant %+v\nfrom %q", what, got, want, data)
	}
}

// checkDecodeEquivalence holds every hand-written decoder to its reference
// on data.
func checkDecodeEquivalence(t *testing.T, data []byte) {
	t.Helper()
	{
		got, err := contracts.DecodeEnvelopeFields(data)
		want := new(contracts.Envelope)
		werr := contracts.DecodeStrictPlain(data, want)
		sameResult(t, "envelope decoder", data, got, err, want, werr)
	}
	{
		got, err := contracts.DecodeReceiptFields(data)
		want := new(contracts.Receipt)
		werr := contracts.DecodeStrictPlain(data, want)
		sameResult(t, "receipt decoder", data, got, err, want, werr)
	}
	{
		got, err := contracts.DecodeBatchProofFields(data)
		want := new(contracts.BatchProof)
		werr := contracts.DecodeStrictPlain(data, want)
		sameResult(t, "batch proof decoder", data, got, err, want, werr)
	}
	{
		got, err := contracts.DecodeEnvelope(data)
		want, werr := decodeEnvelopeReference(data)
		if err == nil {
			if known, checked := got.KnownCanonical(); !known || !checked {
				t.Fatalf("DecodeEnvelope does not know its payload is canonical: %q", data)
			}
			got.ForgetCanonical()
		}
		sameResult(t, "DecodeEnvelope", data, got, err, want, werr)
	}
	{
		got, err := contracts.DecodeReceipt(data)
		want, werr := decodeReceiptReference(data)
		sameResult(t, "DecodeReceipt", data, got, err, want, werr)
	}
}

// wireSamples are envelopes and receipts as nodes send them: signed alone
// and in batches, with ECDSA and Ed25519, with and without a reason, bound
// to their envelopes or not.
func wireSamples(t testing.TB) (envelopes, receipts [][]byte) {
	t.Helper()
	g := generator(t)
	ks := keys(t)
	add := func(list *[][]byte, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		*list = append(*list, b)
	}
	var batch []*contracts.Envelope
	for i := range 6 {
		env := sealed(t, g)
		if err := env.Sign(ks[i%2].priv, signerURI); err != nil {
			t.Fatal(err)
		}
		add(&envelopes, env)
		batch = append(batch, sealed(t, g))
	}
	if err := contracts.SignBatch(batch, ks[0].priv, signerURI); err != nil {
		t.Fatal(err)
	}
	var rs []*contracts.Receipt
	for i, env := range batch {
		add(&envelopes, env)
		r := contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
		if i%3 != 2 {
			// Bound to the whole envelope, as for an origin that asks.
			d, err := env.SigningDigest()
			if err != nil {
				t.Fatal(err)
			}
			r = contracts.NewBoundReceipt(env, d, contracts.ReceiptStored, "", testNow)
		}
		if i%2 == 1 {
			r.Status, r.Reason = contracts.ReceiptRejected, "policy_denied"
		}
		rs = append(rs, r)
	}
	if err := contracts.SignReceipts(rs[:4], ks[1].priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[4:] {
		if err := r.Sign(ks[0].priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		add(&receipts, r)
	}
	return envelopes, receipts
}

// withMember adds member (`"name":value`) as the last member of the object
// doc, so that it wins over an earlier one of the same name.
func withMember(doc, member string) string { return doc[:len(doc)-1] + "," + member + "}" }

// nested is an array nested n deep.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// edgeDocuments are documents at the edges of what encoding/json accepts
// into an envelope, a receipt or a batch proof.
func edgeDocuments(t testing.TB) []string {
	t.Helper()
	envs, rcpts := wireSamples(t)
	env, batched, rcpt := string(envs[0]), string(envs[len(envs)-1]), string(rcpts[0])
	indented := new(bytes.Buffer)
	if err := json.Indent(indented, envs[0], "", "  "); err != nil {
		t.Fatal(err)
	}
	docs := []string{env, batched, rcpt, string(rcpts[len(rcpts)-1]), indented.String(), " \t\r\n" + env + " \n",
		// Not an object, or not one document.
		``, ` `, `null`, ` null `, `[]`, `"x"`, `1`, `true`, `{}`, `{`, `}`, `{"id":}`, env + ` {}`, env + `x`, env + "\x00",
		env[:len(env)/2], `{"id":"a",}`, `{,}`, `{"id" "a"}`, `{"id":"a"}}`, "\ufeff" + env,
		// Member names: another case, escapes, folding, unknown.
		strings.Replace(env, `"id":`, `"ID":`, 1), strings.Replace(env, `"payload":`, `"PayLoad":`, 1),
		strings.Replace(env, `"signer":`, `"\u017figner":`, 1), strings.Replace(env, `"id":`, `"\u0069d":`, 1),
		strings.Replace(env, `"schema":`, `"\u212aschema":`, 1), strings.Replace(env, `"id":`, `"i\u0064 ":`, 1),
		strings.Replace(batched, `"index":`, `"INDEX":`, 1), strings.Replace(rcpt, `"status":`, `"Status":`, 1),
		withMember(env, `"extra":1`), withMember(env, `"extra":null`), strings.Replace(batched, `"root":`, `"extra":1,"root":`, 1),
		withMember(rcpt, `"payload":{}`), withMember(env, `"reason":"x"`), withMember(env, `"\xff":1`),
		// Members given twice: the last wins, objects merge, arrays reuse.
		withMember(env, `"id":"01KJKJ51Y59XNYXSRVHA592X8B"`), withMember(env, `"id":null`), withMember(env, `"created":null`),
		withMember(env, `"payload":{"a":1}`), withMember(env, `"payload":null`),
		withMember(batched, `"batch":{"index":1}`), withMember(batched, `"batch":null`), withMember(env, `"batch":{"size":2}`),
		withMember(withMember(env, `"signature":"AQIDBA=="`), `"signature":[9,null]`),
		withMember(withMember(env, `"signature":"AQ=="`), `"signature":[null,null,null]`),
		withMember(withMember(env, `"signature":[1,2,3,4,5]`), `"signature":[null,7]`),
		withMember(withMember(env, `"signature":[1,2]`), `"signature":[]`),
		withMember(batched, `"batch":{"path":[null,[1,null],"AQ=="]}`),
		withMember(withMember(rcpt, `"batch":{"path":["AQID","BAUG"]}`), `"batch":{"path":[[null,9],null]}`),
		withMember(rcpt, `"receiver":"x","receiver":"y"`),
		// Byte slices: base64 and its edges, arrays of numbers, null.
		withMember(env, `"signature":null`), withMember(env, `"signature":""`), withMember(env, `"signature":"AQID"`),
		withMember(env, `"signature":"AQ"`), withMember(env, `"signature":"AQ="`), withMember(env, `"signature":"-_8="`),
		withMember(env, `"signature":"AQ\nID"`), withMember(env, `"signature":"AQ\r\nID\n"`), withMember(env, `"signature":"AQ ID"`),
		withMember(env, `"signature":"\u0041QID"`), withMember(env, `"signature":"AQ\tID"`), withMember(env, `"signature":"A\\QID"`),
		withMember(env, `"signature":[1,2,255]`), withMember(env, `"signature":[256]`), withMember(env, `"signature":[-1]`),
		withMember(env, `"signature":[-0]`), withMember(env, `"signature":[1.0]`), withMember(env, `"signature":[1e1]`),
		withMember(env, `"signature":["1"]`), withMember(env, `"signature":[[1]]`), withMember(env, `"signature":[{}]`),
		withMember(env, `"signature":1`), withMember(env, `"signature":true`), withMember(env, `"signature":{}`),
		withMember(batched, `"batch":{"root":null,"path":null,"signature":null}`),
		`{"signature":""}`, `{"batch":{"path":["",""]}}`, `{"batch":{"root":"","signature":""}}`,
		withMember(batched, `"batch":{"path":[]}`), withMember(batched, `"batch":{"path":"AQ=="}`), withMember(batched, `"batch":{"path":[1]}`),
		withMember(env, `"batch":[]`), withMember(env, `"batch":"x"`), withMember(env, `"batch":1`), withMember(env, `"batch":{}`),
		// Integers.
		withMember(env, `"agreement_version":-0`), withMember(env, `"agreement_version":1.0`), withMember(env, `"agreement_version":1e0`),
		withMember(env, `"agreement_version":1E+2`), withMember(env, `"agreement_version":9223372036854775807`),
		withMember(env, `"agreement_version":9223372036854775808`), withMember(env, `"agreement_version":-9223372036854775808`),
		withMember(env, `"agreement_version":"1"`), withMember(env, `"agreement_version":true`), withMember(env, `"agreement_version":null`),
		withMember(env, `"agreement_version":01`), withMember(env, `"agreement_version":-`), withMember(env, `"agreement_version":+1`),
		withMember(env, `"agreement_version":[]`), withMember(env, `"agreement_version":{}`),
		withMember(batched, `"batch":{"index":-1,"size":1.5}`),
		// Times.
		withMember(env, `"created":"2026-03-01T10:03:04.005+08:00"`), withMember(env, `"created":"2026-03-01T02:03:04Z"`),
		withMember(env, `"created":"2026-03-01t02:03:04z"`), withMember(env, `"created":"2026-03-01T02:03:04\u002b08:00"`),
		withMember(env, `"created":"2026-02-30T02:03:04Z"`), withMember(env, `"created":"2026-03-01 02:03:04Z"`),
		withMember(env, `"created":"2026-03-01T02:03:04.Z"`), withMember(env, `"created":"2026-03-01T02:03:04+24:00"`),
		withMember(env, `"created":1`), withMember(env, `"created":{}`), withMember(env, `"created":[]`), withMember(env, `"created":""`),
		withMember(rcpt, `"received_at":null`), withMember(rcpt, `"received_at":"0000-01-01T00:00:00Z"`),
		// Strings.
		withMember(env, `"signer":"\u00e9\ud83d\ude00\u2028<&>"`), withMember(env, `"signer":"\ud800"`), withMember(env, "\"signer\":\"\xff\xfe\""),
		withMember(env, `"signer":"\x"`), withMember(env, `"signer":"\u12"`), withMember(env, "\"signer\":\"a\x01\""),
		withMember(env, `"signer":1`), withMember(env, `"signer":null`), withMember(env, `"type":"agreement"`),
		withMember(env, `"origin":"44"`), withMember(env, `"payload_digest":"sha256:00"`), withMember(rcpt, `"status":"lost"`),
		// Payloads: not objects, not canonical, not valid.
		withMember(env, `"payload":"x"`), withMember(env, `"payload":1`), withMember(env, `"payload":[]`), withMember(env, `"payload":true`),
		withMember(env, `"payload":{ }`), withMember(env, `"payload":{"a":1.5}`), withMember(env, `"payload":{"a":1,"a":2}`),
		withMember(env, `"payload":{"a":9007199254740993}`), withMember(env, `"payload":{"a":"\x"}`), withMember(env, "\"payload\":{\"a\":\"\xff\"}"),
		withMember(env, `"payload":{"a":[1,}`), withMember(env, `"payload":{"a":tru}`), withMember(env, `"payload":{"a":nul}`),
		withMember(env, `"payload":{"a":-}`), withMember(env, `"payload":{"a":1}x`), withMember(env, `"payload":{"a":"<&>\u2028"}`),
		withMember(env, `"payload":{"a":`+nested(9998)+`}`), withMember(env, `"payload":{"a":`+nested(9999)+`}`),
		withMember(env, `"payload":{"a":1.5,"b":`+nested(9999)+`}`), `{"payload":` + nested(9999) + `}`, `{"payload":` + nested(10000) + `}`,
		`{"batch":{"path":[` + nested(9997) + `]}}`, `{"batch":{"path":[` + nested(9998) + `]}}`,
	}
	// The envelope with its payload re-indented still decodes.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(envs[0], &m); err != nil {
		t.Fatal(err)
	}
	var p bytes.Buffer
	if err := json.Indent(&p, m["payload"], "", "\t"); err != nil {
		t.Fatal(err)
	}
	docs = append(docs, withMember(env, `"payload":`+p.String()))
	for _, name := range []string{"testdata/valid/envelope.json", "testdata/valid/receipt.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	files, _ := filepath.Glob("testdata/invalid/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && (strings.Contains(name, "envelope") || strings.Contains(name, "receipt")) {
			docs = append(docs, string(b))
		}
	}
	return docs
}

func TestDecodeEnvelopeEquivalence(t *testing.T) {
	docs := edgeDocuments(t)
	envs, rcpts := wireSamples(t)
	for _, d := range append(envs, rcpts...) {
		docs = append(docs, string(d))
	}
	for i, d := range docs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkDecodeEquivalence(t, []byte(d)) })
	}
	// The wire samples decode, and mean what they meant.
	for _, d := range envs {
		if _, err := contracts.DecodeEnvelope(d); err != nil {
			t.Errorf("envelope: %v", err)
		}
	}
	for _, d := range rcpts {
		if _, err := contracts.DecodeReceipt(d); err != nil {
			t.Errorf("receipt: %v", err)
		}
	}
}

// TestDecodeEnvelopeErrors checks that errors say where and what.
func TestDecodeEnvelopeErrors(t *testing.T) {
	envs, rcpts := wireSamples(t)
	env, batched, rcpt := string(envs[0]), string(envs[len(envs)-1]), string(rcpts[0])
	tests := []struct {
		name, in, path, msg string
		receipt             bool
	}{
		{"unknown member", withMember(env, `"extra":1`), "extra", "unknown field", false},
		{"unknown proof member", strings.Replace(batched, `"root":`, `"extra":1,"root":`, 1), "batch.extra", "unknown field", false},
		{"bad base64", withMember(env, `"signature":"AQ"`), "signature", "base64", false},
		{"bad byte", withMember(env, `"signature":[1,256]`), "signature[1]", "not a byte", false},
		{"bad path", withMember(batched, `"batch":{"path":["AQ","AQ"]}`), "batch.path[0]", "base64", false},
		{"fraction", withMember(env, `"agreement_version":1.5`), "agreement_version", "not a valid integer", false},
		{"string for integer", withMember(env, `"agreement_version":"1"`), "agreement_version", "not a valid integer", false},
		{"bad time", withMember(env, `"created":"yesterday"`), "created", "RFC 3339", false},
		{"number for string", withMember(env, `"signer":1`), "signer", "want a string", false},
		{"bad payload", withMember(env, `"payload":{"a":tru}`), "payload.a", "", false},
		{"too deep", withMember(env, `"payload":{"a":`+nested(9999)+`}`), "*", "nesting depth 10000", false},
		{"trailing data", env + ` {}`, "", "trailing data", false},
		{"truncated", env[:len(env)/2], "*", "unexpected end", false},
		{"receipt unknown member", withMember(rcpt, `"payload":{}`), "payload", "unknown field", true},
		{"receipt bad time", withMember(rcpt, `"received_at":1`), "received_at", "want a string", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.receipt {
				_, err = contracts.DecodeReceipt([]byte(tt.in))
			} else {
				_, err = contracts.DecodeEnvelope([]byte(tt.in))
			}
			var de *contracts.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T %v, want a *DecodeError", err, err)
			}
			if (tt.path != "*" && de.Path != tt.path) || !strings.Contains(de.Message, tt.msg) || de.Offset < 0 {
				t.Errorf("got %v; want path %q and ...%s... at an offset", de, tt.path, tt.msg)
			}
		})
	}
	// What Check refuses is named as before.
	_, err := contracts.DecodeEnvelope([]byte(withMember(env, `"payload":{"a":1.5}`)))
	if err == nil || !strings.Contains(err.Error(), "payload: canonicalize") || !strings.Contains(err.Error(), "1.5") {
		t.Errorf("non-canonical payload: %v", err)
	}
	_, err = contracts.DecodeEnvelope([]byte(withMember(env, `"payload":[]`)))
	if err == nil || !strings.Contains(err.Error(), "payload is not a JSON object") {
		t.Errorf("payload not an object: %v", err)
	}
}

// FuzzDecodeEnvelopeEquivalence holds the envelope, receipt and batch proof
// decoders, and DecodeEnvelope and DecodeReceipt as a whole, to encoding/json
// and the checks as they were: the same verdict always, the same value when
// they accept.
func FuzzDecodeEnvelopeEquivalence(f *testing.F) {
	for _, d := range edgeDocuments(f) {
		if len(d) < 4096 {
			f.Add([]byte(d))
		}
	}
	envs, rcpts := wireSamples(f)
	for _, d := range append(envs, rcpts...) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeEquivalence(t, data) })
}

// checkAppendJSON fails t unless AppendJSON writes what json.Marshal writes,
// or both fail, after a prefix that it keeps.
func checkAppendJSON(t *testing.T, v interface {
	AppendJSON([]byte) ([]byte, error)
}) {
	t.Helper()
	prefix := []byte("[prefix]")
	got, err := v.AppendJSON(prefix[:len(prefix):len(prefix)])
	want, werr := json.Marshal(v)
	switch {
	case (err == nil) != (werr == nil):
		t.Fatalf("AppendJSON error %v, json.Marshal error %v for %+v", err, werr, v)
	case err != nil:
		if string(got) != string(prefix) {
			t.Fatalf("failing AppendJSON left %q", got)
		}
	case string(got[:len(prefix)]) != string(prefix) || string(got[len(prefix):]) != string(want):
		t.Fatalf("AppendJSON differs from json.Marshal:\n got %s\nwant %s", got[len(prefix):], want)
	}
}

// oddStrings are strings encoding/json escapes in every way it has.
var oddStrings = []string{"", "plain", "<script>&amp;</script>", `quote" back\slash /`, "ctl\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "line\u2028para\u2029", "bad\xffutf8\xc3", "é中文\U0001F600", "\u00a0\ufeff", "cut\xe2\x80", "\xe2\x80\xa8\xe2\x80"}

func TestAppendJSONMatchesMarshal(t *testing.T) {
	g := generator(t)
	ks := keys(t)
	rng := rand.New(rand.NewPCG(1, 2))
	odd := func() string { return oddStrings[rng.IntN(len(oddStrings))] }
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("X", 24*3600)}
	when := func() time.Time {
		switch rng.IntN(10) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // json.Marshal refuses it
		case 2:
			return time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return testNow.Add(time.Duration(rng.Int64N(1e15))).In(zones[rng.IntN(len(zones))])
	}
	const n = 3000
	var pending []*contracts.Envelope
	for i := range n {
		tr := g.Transfer()
		if i%5 == 0 {
			tr.Worker.Name, tr.Placement.EmployerName = odd(), odd()
		}
		var rec contracts.Record = tr
		switch i % 4 {
		case 1:
			rec = g.Confirmation(tr)
		case 2:
			rec = g.Referral()
		}
		env, err := contracts.NewEnvelope(rec, rng.IntN(5), testNow)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 7 {
		case 0:
			env.ID, env.Signer, env.AgreementID, env.Purpose = odd(), odd(), odd(), contracts.Purpose(odd())
		case 1:
			env.Type, env.Schema, env.Origin, env.Destination, env.PayloadDigest = contracts.RecordType(odd()), odd(), odd(), odd(), odd()
		case 2:
			env.Created, env.AgreementVersion = when(), -rng.IntN(1<<40)
		}
		switch i % 11 {
		case 0:
			env.Payload = append([]byte(nil), env.Payload...) // not known canonical
		case 1:
			var b bytes.Buffer
			_ = json.Indent(&b, env.Payload, "", " ")
			env.Payload = b.Bytes()
		case 2:
			canon, err := contracts.CanonicalizeJSONEdit(env.Payload, map[string]*contracts.Edits{"worker": {Drop: true}})
			if err != nil {
				t.Fatal(err)
			}
			env.SetPayload(canon)
		case 3:
			env.Payload = nil
		case 4:
			env.Payload = []byte(`{"a":`) // json.Marshal refuses it
		case 5:
			env.Payload = []byte(`{"a":"<&>` + "\u2028" + `"}`)
		}
		switch i % 6 {
		case 0, 1:
			_ = env.Sign(ks[i%2].priv, signerURI) // fails for a payload that is no object, encoded all the same
		case 2:
			pending = append(pending, env)
			if len(pending) == 5 {
				_ = contracts.SignBatch(pending, ks[0].priv, signerURI)
				for _, e := range pending {
					checkAppendJSON(t, e)
				}
				pending = nil
			}
			continue
		case 3:
			env.Signature = []byte{}
			env.Batch = &contracts.BatchProof{Path: [][]byte{nil, {}, {1, 2, 3}}, Signature: []byte{}}
		case 4:
			env.Batch = &contracts.BatchProof{Root: []byte{0xff}, Index: -1, Path: [][]byte{}}
		}
		checkAppendJSON(t, env)
		if i%3 == 0 {
			// As a destination has it, known canonical from decoding.
			b, err := json.Marshal(env)
			if err != nil {
				continue
			}
			if back, err := contracts.DecodeEnvelope(b); err == nil {
				checkAppendJSON(t, back)
			}
		}

		r := contracts.NewReceipt(env, contracts.ReceiptStatus(odd()), odd(), when())
		if i%2 == 1 {
			r.EnvelopeDigest = odd()
		}
		switch i % 5 {
		case 0:
			r.Status = contracts.ReceiptRejected
			_ = r.Sign(ks[i%2].priv, odd()+"x") // fails for a time json.Marshal refuses too
		case 1:
			r.Status = contracts.ReceiptDuplicate
			_ = contracts.SignReceipts([]*contracts.Receipt{r, contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)}, ks[1].priv, "spiffe://p44/gw")
		case 2:
			r.Signature, r.Receiver, r.EnvelopeID, r.PayloadDigest = []byte{}, odd(), odd(), odd()
		}
		checkAppendJSON(t, r)
	}
	checkAppendJSON(t, (*contracts.Envelope)(nil))
	checkAppendJSON(t, (*contracts.Receipt)(nil))
}

// FuzzAppendJSON holds AppendJSON to json.Marshal for envelopes and receipts
// read from anything encoding/json or the strict decoders accept, with s in
// their free-text members.
func FuzzAppendJSON(f *testing.F) {
	envs, rcpts := wireSamples(f)
	for i, d := range append(envs, rcpts...) {
		f.Add(d, oddStrings[i%len(oddStrings)])
	}
	f.Add([]byte(`{"payload":{"a":"<\u2028>","b":[1, 2]}}`), "")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		var e contracts.Envelope
		if json.Unmarshal(data, &e) == nil {
			checkAppendJSON(t, &e)
			e.Signer, e.AgreementID = s, s
			checkAppendJSON(t, &e)
		}
		if env, err := contracts.DecodeEnvelope(data); err == nil {
			checkAppendJSON(t, env)
			env.Signer = s
			checkAppendJSON(t, env)
		}
		var r contracts.Receipt
		if json.Unmarshal(data, &r) == nil {
			checkAppendJSON(t, &r)
			r.Reason = s
			checkAppendJSON(t, &r)
		}
	})
}

// TestRepeatedPayloadDoesNotAllocateQuadratically: a payload member given
// thousands of times (encoding/json's meaning lets the last win) costs the
// decoder memory in proportion to the envelope, not to its square, whether
// the payload canonicalizes or not (a repeated name).
func TestRepeatedPayloadDoesNotAllocateQuadratically(t *testing.T) {
	for _, payload := range []string{`{}`, `{"a":1,"a":2}`} {
		doc := []byte(`{` + strings.Repeat(`"payload":`+payload+`,`, 5000) + `"id":"x"}`)
		if len(doc) > 2*contracts.MaxRecordSize {
			t.Fatalf("a %d-byte envelope is refused for its size before it is decoded", len(doc))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		contracts.DecodeEnvelope(doc) // refused later for its form; the decoding is what costs
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(20*len(doc)); got > limit {
			t.Errorf("decoding a %d-byte envelope of %s payloads allocated %d bytes, over %d", len(doc), payload, got, limit)
		}
	}
}

// WithBatchProof writes what AppendJSON writes for the envelope with its
// proof, from the envelope's encoding without it.
func TestWithBatchProofMatchesAppendJSON(t *testing.T) {
	g := generator(t)
	ks := keys(t)
	var envs []*contracts.Envelope
	var digests [][32]byte
	for range 5 {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, testNow)
		if err != nil {
			t.Fatal(err)
		}
		env.Signer = "spiffe://p51.laborlink.example/node/gw-1"
		d, err := env.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		envs, digests = append(envs, env), append(digests, d)
	}
	proofs, err := contracts.SignDigests(digests, ks[0].priv)
	if err != nil {
		t.Fatal(err)
	}
	for i, env := range envs {
		unsigned, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := contracts.WithBatchProof(append(unsigned, '\n'), proofs[i])
		if err != nil {
			t.Fatal(err)
		}
		env.Batch = proofs[i]
		want, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("envelope %d:\n got %s\nwant %s", i, got, want)
		}
		prefix := []byte(`{"envelopes":[`)
		if app, err := contracts.AppendWithBatchProof(prefix, append(unsigned, '\n'), proofs[i]); err != nil || !bytes.Equal(app, append(prefix, want...)) {
			t.Errorf("envelope %d appended (%v):\n got %s\nwant %s%s", i, err, app, prefix, want)
		}
		if _, err := contracts.WithBatchProof(want, proofs[i]); err == nil {
			t.Errorf("envelope %d: a second proof was added to an envelope that has one", i)
		}
		if app, err := contracts.AppendWithBatchProof(prefix, want, proofs[i]); err == nil || !bytes.Equal(app, prefix) {
			t.Errorf("envelope %d: a second proof was appended (%v), or the body changed: %s", i, err, app)
		}
		if _, err := contracts.WithBatchProof(unsigned, nil); err == nil {
			t.Errorf("envelope %d: no proof was added", i)
		}
		env.Batch, env.Signature = nil, []byte("signed")
		signed, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := contracts.WithBatchProof(signed, proofs[i]); err == nil {
			t.Errorf("envelope %d: a proof was added to an envelope signed alone", i)
		}
	}
}
