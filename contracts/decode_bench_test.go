package contracts_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// BenchmarkDecodeEnvelopeRecord is a destination's decode of one envelope
// as nodes send it: the envelope and its record in one call.
func BenchmarkDecodeEnvelopeRecord(b *testing.B) {
	data, err := signedEnvelope(b, keys(b)[1].priv).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := contracts.DecodeEnvelopeRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawObjectSplit splits a delivery of 100 envelopes, as a
// destination reads a request body before decoding each envelope.
func BenchmarkRawObjectSplit(b *testing.B) {
	env, err := signedEnvelope(b, keys(b)[1].priv).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString(`{"chain":["AAE="],"envelopes":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(env)
	}
	body.WriteString(`]}`)
	data := body.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		elems, err := contracts.RawObjectSplit(data, "envelopes", func(string, json.RawMessage) error { return nil })
		if err != nil || len(elems) != 100 {
			b.Fatal(len(elems), err)
		}
	}
}
