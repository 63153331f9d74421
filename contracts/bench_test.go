package contracts_test

import (
	"crypto"
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

func BenchmarkDecodeValidateTransfer(b *testing.B) {
	data, err := json.Marshal(generator(b).Transfer())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.Parse(data, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTransfer(b *testing.B) {
	data, _ := json.Marshal(generator(b).Transfer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateTransfer(b *testing.B) {
	tr := generator(b).Transfer()
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.ValidateAt(now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalDigestTransfer(b *testing.B) {
	tr := generator(b).Transfer()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.Digest(tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonicalTransfer is Canonical of a transfer: what NewEnvelope
// pays for every record it seals.
func BenchmarkCanonicalTransfer(b *testing.B) {
	tr := generator(b).Transfer()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.Canonical(tr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealEdited seals a transfer whose worker's name and ID number an
// export obligation masks: NewEnvelope then SetPayload of the edited copy,
// against NewEnvelopeEdited, which edits while it encodes (edited) or,
// given no edits to carry out, encodes and then edits (two-pass).
func BenchmarkSealEdited(b *testing.B) {
	tr := generator(b).Transfer()
	mask := func(string) string { return "*" }
	edits := map[string]*contracts.Edits{"worker": {Members: map[string]*contracts.Edits{"name": {Replace: mask}, "id_number": {Replace: mask}}}}
	edit := func(canon []byte) ([]byte, error) { return contracts.EditCanonicalJSON(canon, edits) }
	b.Run("then-set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			env, err := contracts.NewEnvelope(tr, 1, testNow)
			if err != nil {
				b.Fatal(err)
			}
			p, err := edit(env.Payload)
			if err != nil {
				b.Fatal(err)
			}
			env.SetPayload(p)
		}
	})
	for _, bc := range []struct {
		name string
		ed   editor
	}{
		{"edited", editor{edits: edits}},
		{"two-pass", editor{apply: edit}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := contracts.NewEnvelopeEdited(tr, 1, testNow, bc.ed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEnvelopeSign(b *testing.B) {
	g := generator(b)
	for _, kp := range keys(b) {
		b.Run(kp.name, func(b *testing.B) {
			env, err := contracts.NewEnvelope(g.Transfer(), 1, testNow)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := env.Sign(kp.priv, signerURI); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEnvelopeVerify(b *testing.B) {
	g := generator(b)
	for _, kp := range keys(b) {
		b.Run(kp.name, func(b *testing.B) {
			env, _ := contracts.NewEnvelope(g.Transfer(), 1, testNow)
			if err := env.Sign(kp.priv, signerURI); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := env.Verify(kp.priv.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSignBatch100(b *testing.B) {
	g := generator(b)
	envs := make([]*contracts.Envelope, 100)
	for i := range envs {
		envs[i], _ = contracts.NewEnvelope(g.Transfer(), 1, testNow)
	}
	for _, kp := range keys(b) {
		b.Run(kp.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := contracts.SignBatch(envs, kp.priv, signerURI); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// signedEnvelope is a generated transfer sealed and signed alone with key.
func signedEnvelope(b *testing.B, key crypto.Signer) *contracts.Envelope {
	env, err := contracts.NewEnvelope(generator(b).Transfer(), 1, testNow)
	if err != nil {
		b.Fatal(err)
	}
	if err := env.Sign(key, signerURI); err != nil {
		b.Fatal(err)
	}
	return env
}

// signedReceipt is a receipt for env signed in a batch of one, as a
// destination answers a delivered batch.
func signedReceipt(b *testing.B, env *contracts.Envelope, key crypto.Signer) *contracts.Receipt {
	r := contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
	if err := contracts.SignReceipts([]*contracts.Receipt{r}, key, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	data, err := json.Marshal(signedEnvelope(b, keys(b)[1].priv))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.DecodeEnvelope(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveEnvelope is the contracts part of a destination's work
// per envelope signed alone: decode, then verify the digest and signature.
func BenchmarkReceiveEnvelope(b *testing.B) {
	for _, kp := range keys(b) {
		b.Run(kp.name, func(b *testing.B) {
			data, err := json.Marshal(signedEnvelope(b, kp.priv))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				env, err := contracts.DecodeEnvelope(data)
				if err != nil {
					b.Fatal(err)
				}
				if err := env.Verify(kp.priv.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodedSigningDigest is SigningDigest of a decoded envelope, as a
// destination computes it for an envelope signed in a batch.
func BenchmarkDecodedSigningDigest(b *testing.B) {
	data, _ := json.Marshal(signedEnvelope(b, keys(b)[1].priv))
	env, err := contracts.DecodeEnvelope(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.SigningDigest(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReceipt(b *testing.B) {
	k := keys(b)[1].priv
	data, err := json.Marshal(signedReceipt(b, signedEnvelope(b, k), k))
	if err != nil {
		b.Fatal(err)
	}
	benchmarkDecodeReceipt(b, data)
}

// benchmarkDecodeReceipt times DecodeReceipt on data.
func benchmarkDecodeReceipt(b *testing.B, data []byte) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.DecodeReceipt(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeMarshal(b *testing.B) {
	env := signedEnvelope(b, keys(b)[1].priv)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiptMarshal(b *testing.B) {
	k := keys(b)[1].priv
	r := signedReceipt(b, signedEnvelope(b, k), k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeAppendJSON(b *testing.B) {
	env := signedEnvelope(b, keys(b)[1].priv)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = env.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReceiptAppendJSON(b *testing.B) {
	k := keys(b)[1].priv
	r := signedReceipt(b, signedEnvelope(b, k), k)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = r.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
