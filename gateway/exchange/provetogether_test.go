package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// TestProveTogetherAsEachAlone holds the destination's check of a request's
// envelopes, their batch proofs verified together first, to verifying each
// envelope alone as it did before: the same answer and error for every
// envelope, whole trees proven with one signature check each, and requests
// whose trees are incomplete, out of order or tampered with verified alone.
func TestProveTogetherAsEachAlone(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	leaf, otherLeaf := p.Issue("51", pki.KindNode, "gw-1"), p.Issue("51", pki.KindNode, "gw-2")
	signer, other := p.Signer(leaf), p.Signer(otherLeaf)
	uri := signer.Identity().URI()
	// tree returns n envelopes signed together by s, as BatchSender signs a
	// delivery batch, each with a proof of its own.
	tree := func(s *pki.Signer, n int) []*contracts.Envelope {
		t.Helper()
		envs, ds := sealed(t, n, uri)
		proofs, err := contracts.SignDigests(ds, s)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range envs {
			pr := *proofs[i]
			pr.Root, pr.Signature = bytes.Clone(pr.Root), bytes.Clone(pr.Signature)
			pr.Path = make([][]byte, len(proofs[i].Path))
			for k, h := range proofs[i].Path {
				pr.Path[k] = bytes.Clone(h)
			}
			e.Batch = &pr
		}
		return envs
	}
	alone := func() *contracts.Envelope {
		e := tree(signer, 1)[0]
		e.Batch = nil
		if err := e.Sign(signer, uri); err != nil {
			t.Fatal(err)
		}
		return e
	}
	encode := func(envs ...*contracts.Envelope) []json.RawMessage {
		t.Helper()
		raws := make([]json.RawMessage, len(envs))
		for i, e := range envs {
			var err error
			if raws[i], err = e.AppendJSON(nil); err != nil {
				t.Fatal(err)
			}
		}
		return raws
	}
	cases := []struct {
		name    string
		request func() []json.RawMessage
		proven  int // envelopes whose proofs verify together
		checks  int // root signature checks, when every envelope verifies
	}{
		{"a batch of 64", func() []json.RawMessage { return encode(tree(signer, 64)...) }, 64, 1},
		{"a batch of 1", func() []json.RawMessage { return encode(tree(signer, 1)...) }, 1, 1},
		{"two batches", func() []json.RawMessage { return encode(append(tree(signer, 20), tree(signer, 7)...)...) }, 27, 2},
		{"signed alone between leaves", func() []json.RawMessage {
			envs := tree(signer, 10)
			return encode(append(append(envs[:4:4], alone(), alone()), envs[4:]...)...)
		}, 10, 1},
		{"a leaf missing", func() []json.RawMessage {
			envs := tree(signer, 10)
			return encode(append(envs[:3:3], envs[4:]...)...)
		}, 0, 1},
		{"two leaves swapped", func() []json.RawMessage {
			envs := tree(signer, 10)
			envs[2], envs[7] = envs[7], envs[2]
			return encode(envs...)
		}, 0, 1},
		{"a path entry changed", func() []json.RawMessage {
			envs := tree(signer, 30)
			envs[17].Batch.Path[1][3] ^= 1
			return encode(envs...)
		}, 0, 0},
		{"a root changed", func() []json.RawMessage {
			envs := tree(signer, 30)
			envs[5].Batch.Root[0] ^= 1
			return encode(envs...)
		}, 0, 0},
		{"every root changed alike", func() []json.RawMessage {
			envs := tree(signer, 12)
			for _, e := range envs {
				e.Batch.Root[0] ^= 1
			}
			return encode(envs...)
		}, 0, 0},
		{"a size changed", func() []json.RawMessage {
			envs := tree(signer, 5)
			envs[2].Batch.Size++ // still verifies alone: 2 of 5 and 2 of 6 are alike
			return encode(envs...)
		}, 0, 1},
		{"a header changed", func() []json.RawMessage {
			envs := tree(signer, 12)
			envs[6].AgreementVersion++
			return encode(envs...)
		}, 0, 0},
		{"a payload changed", func() []json.RawMessage {
			raws := encode(tree(signer, 12)...)
			raws[3] = bytes.Replace(raws[3], []byte(`"51"`), []byte(`"52"`), 1)
			return raws
		}, 0, 0},
		{"an envelope unreadable", func() []json.RawMessage {
			raws := encode(tree(signer, 12)...)
			raws[8] = json.RawMessage(`{"id":`)
			return raws
		}, 0, 0},
		{"signed by another key", func() []json.RawMessage { return encode(tree(other, 9)...) }, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raws := c.request()
			ins := make([]inbound, len(raws))
			for i, raw := range raws {
				ins[i] = open(raw, contracts.DecodedEnvelope{})
			}
			roots := contracts.NewRootVerifier(leaf.Cert.PublicKey)
			proveTogether(ins, roots)
			proven, failed := 0, 0
			for i, raw := range raws {
				if ins[i].proven {
					proven++
				}
				got := "unreadable"
				if ins[i].env != nil {
					got = fmt.Sprint(verifyInbound(&ins[i], roots))
				}
				in := open(raw, contracts.DecodedEnvelope{})
				want := "unreadable"
				if in.env != nil {
					want = fmt.Sprint(verifyEnvelope(in.env, contracts.NewRootVerifier(leaf.Cert.PublicKey), in.checked))
				}
				if got != want {
					t.Errorf("envelope %d: together %s; alone %s", i, got, want)
				}
				if want != "<nil>" {
					failed++
				}
			}
			if proven != c.proven {
				t.Errorf("%d envelopes proven together, want %d", proven, c.proven)
			}
			if failed == 0 && roots.Checks() != c.checks {
				t.Errorf("%d signature checks, want %d", roots.Checks(), c.checks)
			}
			if (failed == 0) != (c.checks > 0) {
				t.Errorf("%d envelopes refused", failed)
			}
		})
	}
}
