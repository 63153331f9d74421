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
	benchmarkDecodeEnvelopeRecord(b, data)
}

// benchmarkDecodeEnvelopeRecord times DecodeEnvelopeRecord on data.
func benchmarkDecodeEnvelopeRecord(b *testing.B, data []byte) {
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

// BenchmarkDecodeBatchedEnvelopeRecord is BenchmarkDecodeEnvelopeRecord for
// an envelope signed in a batch of 500, as nodes seal them under load: its
// proof carries a root, a signature and a path of nine hashes.
func BenchmarkDecodeBatchedEnvelopeRecord(b *testing.B) {
	g := generator(b)
	envs := make([]*contracts.Envelope, 500)
	for i := range envs {
		var err error
		if envs[i], err = contracts.NewEnvelope(g.Transfer(), 1, testNow); err != nil {
			b.Fatal(err)
		}
	}
	if err := contracts.SignBatch(envs, keys(b)[1].priv, signerURI); err != nil {
		b.Fatal(err)
	}
	data, err := envs[137].AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkDecodeEnvelopeRecord(b, data)
}

// BenchmarkDecodeBatchedReceipt is a receipt from an answer to a batch of
// 500, as an origin reads each: its proof has a path of nine hashes.
func BenchmarkDecodeBatchedReceipt(b *testing.B) {
	g, k := generator(b), keys(b)[1].priv
	rs := make([]*contracts.Receipt, 500)
	for i := range rs {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, testNow)
		if err != nil {
			b.Fatal(err)
		}
		rs[i] = contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
	}
	if err := contracts.SignReceipts(rs, k, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(rs[137])
	if err != nil {
		b.Fatal(err)
	}
	benchmarkDecodeReceipt(b, data)
}
