package contracts_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// checkDecodeEnvelopeRecord fails t unless DecodeEnvelopeRecord gives what
// DecodeEnvelope and then Record give: the same envelope, record and
// errors.
func checkDecodeEnvelopeRecord(t *testing.T, data []byte) {
	t.Helper()
	env, rec, err := contracts.DecodeEnvelopeRecord(data)
	want, werr := contracts.DecodeEnvelope(data)
	if want == nil {
		if env != nil || rec != nil || err == nil || err.Error() != werr.Error() {
			t.Fatalf("DecodeEnvelope fails with %v; DecodeEnvelopeRecord gives %v, %v, %v:\n%q", werr, env, rec, err, data)
		}
		return
	}
	if env == nil {
		t.Fatalf("DecodeEnvelope decodes, DecodeEnvelopeRecord fails with %v:\n%q", err, data)
	}
	if known, checked := env.KnownCanonical(); !known || !checked {
		t.Fatalf("DecodeEnvelopeRecord does not know its payload is canonical:\n%q", data)
	}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("envelopes differ:\n got %+v\nwant %+v\n%q", env, want, data)
	}
	wantRec, rerr := want.Record()
	switch {
	case (err == nil) != (rerr == nil) || err != nil && err.Error() != rerr.Error():
		t.Fatalf("Record error %v, DecodeEnvelopeRecord's %v:\n%q", rerr, err, data)
	case err != nil:
		if rec != nil {
			t.Fatalf("a record with the error %v:\n%q", err, data)
		}
	case !reflect.DeepEqual(rec, wantRec):
		t.Fatalf("records differ:\n got %+v\nwant %+v\n%q", rec, wantRec, data)
	}
}

// recordEnvelopes are envelopes of every record type as nodes send them,
// signed alone and in a batch, with payloads whole and with fields masked
// and dropped by obligations.
func recordEnvelopes(t testing.TB) [][]byte {
	t.Helper()
	g := generator(t)
	ks := keys(t)
	var envs []*contracts.Envelope
	for i := range 8 {
		tr := g.Transfer()
		r := g.Referral()
		for _, rec := range []contracts.Record{tr, g.Confirmation(tr), r, g.ReferralUpdate(r)} {
			env, err := contracts.NewEnvelope(rec, 1+i, testNow)
			if err != nil {
				t.Fatal(err)
			}
			envs = append(envs, env)
		}
	}
	// Obligations drop fields without omitempty and mask others.
	for _, env := range envs[:8] {
		edited, err := contracts.EditCanonicalJSON(env.Payload, map[string]*contracts.Edits{
			"worker": {Members: map[string]*contracts.Edits{
				"id_number": {Drop: true},
				"name":      {Replace: func(string) string { return "*" }},
			}},
			"worker_id_number": {Drop: true},
			"labor_brand":      {Drop: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		env.SetPayload(edited)
	}
	if err := contracts.SignBatch(envs[:16], ks[0].priv, signerURI); err != nil {
		t.Fatal(err)
	}
	for _, env := range envs[16:] {
		if err := env.Sign(ks[1].priv, signerURI); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	for _, env := range envs {
		b, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeEnvelopeRecord: envelopes as nodes send them are read in one
// pass, others by DecodeEnvelope and Record, with the same results.
func TestDecodeEnvelopeRecord(t *testing.T) {
	envs := recordEnvelopes(t)
	for i, data := range envs {
		checkDecodeEnvelopeRecord(t, data)
		if !contracts.DecodeEnvelopeRecordOnePass(data) {
			t.Errorf("envelope %d, as sent, is not read in one pass:\n%s", i, data)
		}
	}
	env := string(envs[0])
	payloadAt := strings.Index(env, `"payload":`) + len(`"payload":`)
	indented := new(bytes.Buffer)
	if err := json.Indent(indented, envs[0], "", " "); err != nil {
		t.Fatal(err)
	}
	var decoded contracts.Envelope
	if err := json.Unmarshal(envs[0], &decoded); err != nil {
		t.Fatal(err)
	}
	rec, err := contracts.Decode(decoded.Payload)
	if err != nil {
		t.Fatal(err)
	}
	structOrder, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		doc     string
		onePass bool
	}{
		{"indented", indented.String(), false},
		{"payload spaced", env[:payloadAt] + " " + strings.Replace(env[payloadAt:], `":`, `": `, 1), false},
		{"payload escaped", env[:payloadAt] + strings.Replace(env[payloadAt:], `"from":"5`, `"from":"\u0035`, 1), false},
		{"payload with an integer beyond 2^53", env[:payloadAt] + regexp.MustCompile(`"monthly_wage_fen":[0-9]+`).ReplaceAllString(env[payloadAt:], `"monthly_wage_fen":9007199254740993`), false},
		{"payload in struct order", env[:payloadAt] + string(structOrder) + env[payloadAt+len(decoded.Payload):], false},
		{"payload given twice", withMember(env, `"payload":`+string(decoded.Payload)), true},
		{"payload given twice, then spaced", withMember(env, `"payload":{ `+string(decoded.Payload[1:])), false},
		{"payload given twice, then not canonical", withMember(env, `"payload":{"a":1.5}`), false},
		{"schema again after the payload", withMember(env, `"schema":"`+decoded.Schema+`"`), true},
		{"another schema after the payload", withMember(env, `"schema":"laborlink.confirmation/v1"`), false},
		{"payload not the envelope's", strings.Replace(env, `"origin":"`+decoded.Origin+`"`, `"origin":"11"`, 1), false},
		{"payload with a member unknown", env[:payloadAt] + strings.Replace(env[payloadAt:], `{"agreement_id":`, `{"zz":1,"agreement_id":`, 1), false},
		{"payload null", env[:payloadAt] + "null" + env[payloadAt+len(decoded.Payload):], false},
		{"digest wrong", strings.Replace(env, `"payload_digest":"sha256:`, `"payload_digest":"sha256:0`, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecodeEnvelopeRecord(t, []byte(tc.doc))
			if got := contracts.DecodeEnvelopeRecordOnePass([]byte(tc.doc)); got != tc.onePass {
				t.Errorf("read in one pass: %v, want %v:\n%s", got, tc.onePass, tc.doc)
			}
			if tc.name == "digest wrong" {
				return
			}
			// With the digest of the payload as sent rather than of its
			// canonical form, which a payload not canonical fails.
			doc := withDigestOfSent(t, tc.doc)
			checkDecodeEnvelopeRecord(t, []byte(doc))
			if got := contracts.DecodeEnvelopeRecordOnePass([]byte(doc)); got != tc.onePass {
				t.Errorf("with the digest of the payload sent, read in one pass: %v, want %v:\n%s", got, tc.onePass, doc)
			}
		})
	}
}

// withDigestOfSent is doc with its payload_digest made the digest of the
// payload's bytes as they are in doc (the last payload member's).
func withDigestOfSent(t *testing.T, doc string) string {
	t.Helper()
	var e struct {
		Payload       json.RawMessage `json:"payload"`
		PayloadDigest string          `json:"payload_digest"`
	}
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return doc
	}
	return strings.Replace(doc, `"payload_digest":"`+e.PayloadDigest+`"`, `"payload_digest":"`+contracts.PayloadDigest(e.Payload)+`"`, 1)
}

// FuzzDecodeEnvelopeRecord holds DecodeEnvelopeRecord to DecodeEnvelope and
// Record: the same envelope, record and errors always, and the envelope and
// record kept when the input is overwritten and others decoded
// (checkOwnStrings).
func FuzzDecodeEnvelopeRecord(f *testing.F) {
	envs := recordEnvelopes(f)
	for _, d := range envs {
		f.Add(d)
	}
	for _, d := range edgeDocuments(f) {
		if len(d) < 4096 {
			f.Add([]byte(d))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeEnvelopeRecord(t, data)
		checkOwnStrings(t, data, envs[0], decodedEnvelopeRecord)
	})
}
