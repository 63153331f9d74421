package contracts_test

import (
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
