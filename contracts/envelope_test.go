package contracts_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

const signerURI = "spiffe://p51.laborlink.example/node/gw-1"

var testNow = time.Date(2026, 3, 2, 10, 30, 0, 123456789, time.UTC)

type keyPair struct {
	name string
	priv crypto.Signer
}

func keys(t testing.TB) []keyPair {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []keyPair{{"ecdsa-p256", ec}, {"ed25519", ed}}
}

func generator(t testing.TB) *synth.Generator {
	t.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func sealed(t testing.TB, g *synth.Generator) *contracts.Envelope {
	t.Helper()
	env, err := contracts.NewEnvelope(g.Transfer(), 3, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestNewEnvelope(t *testing.T) {
	g := generator(t)
	tr := g.Transfer()
	env, err := contracts.NewEnvelope(tr, 3, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != contracts.RecordTransfer || env.Schema != contracts.SchemaTransfer || env.Origin != "51" ||
		env.Destination != "44" || env.AgreementID != tr.AgreementID || env.AgreementVersion != 3 || env.Purpose != tr.Purpose {
		t.Errorf("header not copied: %+v", env)
	}
	if want := testNow.Truncate(time.Millisecond); !env.Created.Equal(want) || env.Created.Location() != time.UTC {
		t.Errorf("created %v, want %v in UTC", env.Created, want)
	}
	canon, _ := contracts.Canonical(tr)
	if string(env.Payload) != string(canon) || env.PayloadDigest != contracts.PayloadDigest(canon) {
		t.Error("payload is not the canonical record and its digest")
	}
	rec, err := env.Record()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Head().ID != tr.ID {
		t.Errorf("record %s, want %s", rec.Head().ID, tr.ID)
	}
	// ULIDs sort by creation: a later envelope sorts after an earlier one.
	same, _ := contracts.NewEnvelope(tr, 3, testNow)
	later, _ := contracts.NewEnvelope(tr, 3, testNow.Add(time.Millisecond))
	if !(env.ID < later.ID) || !(env.ID < same.ID) {
		t.Errorf("ULIDs not monotonic: %s %s %s", env.ID, same.ID, later.ID)
	}
}

func TestEnvelopeSignVerify(t *testing.T) {
	g := generator(t)
	for _, kp := range keys(t) {
		other := keys(t)
		t.Run(kp.name, func(t *testing.T) {
			env := sealed(t, g)
			if err := env.Sign(kp.priv, signerURI); err != nil {
				t.Fatal(err)
			}
			if err := env.Verify(kp.priv.Public()); err != nil {
				t.Fatalf("fresh envelope: %v", err)
			}
			// Through the wire and back, it still verifies.
			b, _ := json.Marshal(env)
			var back contracts.Envelope
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if err := back.Verify(kp.priv.Public()); err != nil {
				t.Fatalf("after JSON round trip: %v", err)
			}
			// Re-indenting the envelope re-indents the payload; it still verifies.
			pretty, _ := json.MarshalIndent(env, "", "  ")
			var reformatted contracts.Envelope
			if err := json.Unmarshal(pretty, &reformatted); err != nil {
				t.Fatal(err)
			}
			if err := reformatted.Verify(kp.priv.Public()); err != nil {
				t.Fatalf("after re-indenting: %v", err)
			}
			tamper := []struct {
				name string
				mut  func(e *contracts.Envelope)
			}{
				{"payload byte", func(e *contracts.Envelope) {
					e.Payload = []byte(strings.Replace(string(e.Payload), `"from":"51"`, `"from":"52"`, 1))
				}},
				{"payload and digest", func(e *contracts.Envelope) {
					e.Payload = []byte(strings.Replace(string(e.Payload), `"from":"51"`, `"from":"52"`, 1))
					e.PayloadDigest = contracts.PayloadDigest(e.Payload)
				}},
				{"digest of non-canonical payload", func(e *contracts.Envelope) {
					e.Payload = append([]byte(" "), e.Payload...)
					e.PayloadDigest = contracts.PayloadDigest(e.Payload)
				}},
				{"payload not an object", func(e *contracts.Envelope) { e.Payload = []byte(`"x"`) }},
				{"payload blank", func(e *contracts.Envelope) { e.Payload = []byte("  ") }},
				{"destination", func(e *contracts.Envelope) { e.Destination = "33" }},
				{"agreement version", func(e *contracts.Envelope) { e.AgreementVersion++ }},
				{"signer", func(e *contracts.Envelope) { e.Signer = "spiffe://p52.laborlink.example/node/gw-1" }},
				{"created", func(e *contracts.Envelope) { e.Created = e.Created.Add(time.Millisecond) }},
				{"signature", func(e *contracts.Envelope) { e.Signature[len(e.Signature)/2] ^= 1 }},
			}
			for _, tc := range tamper {
				t.Run(tc.name, func(t *testing.T) {
					e := back
					e.Signature = append([]byte(nil), back.Signature...)
					tc.mut(&e)
					if err := e.Verify(kp.priv.Public()); err == nil {
						t.Error("tampered envelope verified")
					}
				})
			}
			t.Run("wrong key", func(t *testing.T) {
				for _, o := range other {
					err := env.Verify(o.priv.Public())
					if err == nil {
						t.Errorf("verified under another %s key", o.name)
					}
				}
			})
		})
	}
}

func TestEnvelopeRecordRejectsMismatchedHeader(t *testing.T) {
	env := sealed(t, generator(t))
	env.Origin = "52"
	if _, err := env.Record(); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Errorf("got %v, want a header mismatch naming origin", err)
	}
	// A payload of another type than the envelope names does not decode.
	g := generator(t)
	conf, err := contracts.NewEnvelope(g.Confirmation(g.Transfer()), 1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	conf.Type, conf.Schema = contracts.RecordTransfer, contracts.SchemaTransfer
	if rec, err := conf.Record(); err == nil {
		t.Errorf("a confirmation's payload decoded as a %s", rec.Type())
	}
}

func TestReceiptSignVerify(t *testing.T) {
	g := generator(t)
	for _, kp := range keys(t) {
		t.Run(kp.name, func(t *testing.T) {
			env := sealed(t, g)
			r := contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
			if err := r.Sign(kp.priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
				t.Fatal(err)
			}
			if err := r.Verify(kp.priv.Public()); err != nil {
				t.Fatal(err)
			}
			if !r.Matches(env) {
				t.Error("receipt does not match its envelope")
			}
			bad := *r
			bad.Status = contracts.ReceiptRejected
			if err := bad.Verify(kp.priv.Public()); !errors.Is(err, contracts.ErrSignature) {
				t.Errorf("changed status: got %v, want ErrSignature", err)
			}
			bad = *r
			bad.PayloadDigest = contracts.PayloadDigest([]byte("{}"))
			if err := bad.Verify(kp.priv.Public()); err == nil {
				t.Error("changed digest verified")
			}
			if err := r.Verify(keys(t)[0].priv.Public()); err == nil {
				t.Error("verified under another key")
			}
			if err := (&contracts.Receipt{EnvelopeID: env.ID, Status: "lost"}).Sign(kp.priv, "x"); err == nil {
				t.Error("signed a receipt with an unknown status")
			}
		})
	}
}

func TestSignBatch(t *testing.T) {
	g := generator(t)
	for _, kp := range keys(t) {
		for _, n := range []int{1, 2, 3, 5, 8, 13} {
			t.Run(fmt.Sprintf("%s/%d", kp.name, n), func(t *testing.T) {
				envs := make([]*contracts.Envelope, n)
				for i := range envs {
					envs[i] = sealed(t, g)
				}
				if err := contracts.SignBatch(envs, kp.priv, signerURI); err != nil {
					t.Fatal(err)
				}
				root, err := contracts.BatchDigest(envs)
				if err != nil {
					t.Fatal(err)
				}
				for i, e := range envs {
					if string(e.Batch.Root) != string(root[:]) || e.Batch.Index != i || e.Batch.Size != n {
						t.Fatalf("envelope %d: proof %+v", i, e.Batch)
					}
					// Alone, through JSON, as the destination sees it.
					b, _ := json.Marshal(e)
					var back contracts.Envelope
					if err := json.Unmarshal(b, &back); err != nil {
						t.Fatal(err)
					}
					if err := contracts.VerifyInBatch(&back, kp.priv.Public()); err != nil {
						t.Fatalf("envelope %d: %v", i, err)
					}
					if err := back.Verify(kp.priv.Public()); err != nil {
						t.Fatalf("envelope %d via Verify: %v", i, err)
					}
					back.Payload = []byte(strings.Replace(string(back.Payload), `"to":"44"`, `"to":"45"`, 1))
					back.PayloadDigest = contracts.PayloadDigest(back.Payload)
					if err := contracts.VerifyInBatch(&back, kp.priv.Public()); err == nil {
						t.Fatalf("envelope %d: tampered payload verified in batch", i)
					}
				}
				if n > 1 {
					// An envelope cannot claim another's place in the batch.
					e := *envs[0]
					proof := *e.Batch
					proof.Index = 1
					e.Batch = &proof
					if err := contracts.VerifyInBatch(&e, kp.priv.Public()); err == nil {
						t.Error("proof with a wrong index verified")
					}
				}
				if err := contracts.VerifyInBatch(envs[0], keys(t)[1].priv.Public()); err == nil {
					t.Error("batch verified under another key")
				}
			})
		}
	}
}

// TestEnvelopeRefusesSignatureAndProof: an envelope signed alone that also
// carries a batch proof verifies by its signature, and the proof, which
// the destination stores with the envelope as it arrived, would go
// unchecked; the decoder and Check refuse it, as they refuse such a receipt.
func TestEnvelopeRefusesSignatureAndProof(t *testing.T) {
	key := keys(t)[0].priv
	env := sealed(t, generator(t))
	if err := env.Sign(key, signerURI); err != nil {
		t.Fatal(err)
	}
	env.Batch = &contracts.BatchProof{Root: make([]byte, 32), Index: 3, Size: 9, Signature: []byte("forged")}
	if err := env.Verify(key.Public()); err != nil {
		t.Fatalf("the signature alone no longer verifies: %v", err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	const want = "both a signature and a batch proof"
	if _, err := contracts.DecodeEnvelope(b); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("DecodeEnvelope: %v, want an error saying %q", err, want)
	}
	if _, _, err := contracts.DecodeEnvelopeRecord(b); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("DecodeEnvelopeRecord: %v, want an error saying %q", err, want)
	}
	if err := env.Check(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Check: %v, want an error saying %q", err, want)
	}
}

// TestSigningDigestMatchesGeneric holds the hand-written signing encoding to
// the generic canonical digest of the envelope without its signature.
func TestSigningDigestMatchesGeneric(t *testing.T) {
	g := generator(t)
	for i := range 200 {
		env := sealed(t, g)
		switch i % 4 {
		case 1:
			env.Signer = signerURI
		case 2:
			env.AgreementID = "AG-\"quoted\"\\\n\u2028é"
			env.Purpose = "<&>"
		case 3:
			env.Created = env.Created.In(time.FixedZone("CST", 8*3600))
			env.Signer = "spiffe://p44/node/\U0001F600"
		}
		got, err := env.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		unsigned := *env
		unsigned.Signature, unsigned.Batch = nil, nil
		want, err := contracts.Digest(&unsigned)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("envelope %d: hand-written digest differs from the generic one", i)
		}
	}
}

func TestSignReceipts(t *testing.T) {
	g := generator(t)
	const receiver = "spiffe://p44.laborlink.example/node/gw-2"
	for _, kp := range keys(t) {
		for _, n := range []int{1, 2, 7} {
			t.Run(fmt.Sprintf("%s/%d", kp.name, n), func(t *testing.T) {
				rs := make([]*contracts.Receipt, n)
				for i := range rs {
					rs[i] = contracts.NewReceipt(sealed(t, g), contracts.ReceiptStored, "", testNow)
				}
				if err := contracts.SignReceipts(rs, kp.priv, receiver); err != nil {
					t.Fatal(err)
				}
				roots := contracts.NewRootVerifier(kp.priv.Public())
				for i, r := range rs {
					if r.Receiver != receiver || r.Batch == nil || r.Batch.Index != i || len(r.Signature) != 0 {
						t.Fatalf("receipt %d: receiver %q, proof %+v", i, r.Receiver, r.Batch)
					}
					// Alone, through JSON, as the origin keeps it.
					b, _ := json.Marshal(r)
					back, err := contracts.DecodeReceipt(b)
					if err != nil {
						t.Fatal(err)
					}
					if err := back.Verify(kp.priv.Public()); err != nil {
						t.Fatalf("receipt %d: %v", i, err)
					}
					if err := back.VerifyWith(roots); err != nil {
						t.Fatalf("receipt %d with shared roots: %v", i, err)
					}
					back.Status = contracts.ReceiptDuplicate
					if err := back.Verify(kp.priv.Public()); !errors.Is(err, contracts.ErrSignature) {
						t.Fatalf("receipt %d with a changed status: got %v, want ErrSignature", i, err)
					}
				}
				if n > 1 {
					// A receipt cannot take another's place in the batch.
					r := *rs[0]
					proof := *r.Batch
					proof.Index = 1
					r.Batch = &proof
					if err := r.Verify(kp.priv.Public()); !errors.Is(err, contracts.ErrSignature) {
						t.Errorf("proof with a wrong index: got %v, want ErrSignature", err)
					}
				}
				if err := rs[0].Verify(keys(t)[1].priv.Public()); err == nil {
					t.Error("batch verified under another key")
				}
				// A forged root signature fails for every receipt that
				// shares it, including after the first answer was cached.
				forged := contracts.NewRootVerifier(kp.priv.Public())
				for i := range rs {
					r := *rs[i]
					proof := *r.Batch
					proof.Signature = append([]byte(nil), proof.Signature...)
					proof.Signature[len(proof.Signature)-1] ^= 1
					r.Batch = &proof
					if err := r.VerifyWith(forged); !errors.Is(err, contracts.ErrSignature) {
						t.Fatalf("receipt %d with a forged root signature: got %v", i, err)
					}
				}
			})
		}
	}
	if err := contracts.SignReceipts([]*contracts.Receipt{{EnvelopeID: "x", Status: "lost"}}, keys(t)[0].priv, receiver); err == nil {
		t.Error("signed a receipt with an unknown status")
	}
	if err := contracts.SignReceipts(nil, keys(t)[0].priv, receiver); err == nil {
		t.Error("signed an empty batch of receipts")
	}
	// A receipt carries a signature or a proof, never both.
	both := contracts.NewReceipt(sealed(t, generator(t)), contracts.ReceiptStored, "", testNow)
	if err := contracts.SignReceipts([]*contracts.Receipt{both}, keys(t)[0].priv, receiver); err != nil {
		t.Fatal(err)
	}
	both.Signature = []byte{1}
	b, _ := json.Marshal(both)
	if _, err := contracts.DecodeReceipt(b); err == nil || !strings.Contains(err.Error(), "both a signature and a batch proof") {
		t.Errorf("receipt with a signature and a proof: %v", err)
	}
}

// TestReceiptSigningDigestMatchesGeneric holds the hand-written receipt
// encoding to the generic canonical digest of the receipt without its
// signature and batch proof.
func TestReceiptSigningDigestMatchesGeneric(t *testing.T) {
	g := generator(t)
	for i := range 100 {
		r := contracts.NewReceipt(sealed(t, g), contracts.ReceiptStored, "", testNow.Add(time.Duration(i)*time.Millisecond))
		r.Receiver = "spiffe://p44.laborlink.example/node/gw-2"
		if i%8 >= 4 {
			// Bound to its envelope, as receipts for origins that ask are.
			r.EnvelopeDigest = contracts.FormatDigest([32]byte{byte(i)})
		}
		switch i % 4 {
		case 1:
			r.Status, r.Reason = contracts.ReceiptRejected, "policy_denied"
		case 2:
			r.Reason = "<&> \"quoted\"\\\n\u2028é\U0001F600"
			r.Signature = []byte{1, 2}
		case 3:
			r.ReceivedAt = r.ReceivedAt.In(time.FixedZone("CST", 8*3600))
			r.Batch = &contracts.BatchProof{Root: make([]byte, 32), Size: 1}
		}
		got, err := r.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		unsigned := *r
		unsigned.Signature, unsigned.Batch = nil, nil
		want, err := contracts.Digest(&unsigned)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("receipt %d: hand-written digest differs from the generic one", i)
		}
	}
}

// TestKnownCanonicalPayload checks when an envelope takes its payload as
// canonical without canonicalizing it: while Payload is the very slice it
// made, decoded or was given by SetPayload, and only then.
func TestKnownCanonicalPayload(t *testing.T) {
	g := generator(t)
	env := sealed(t, g)
	known := func(e *contracts.Envelope) bool {
		k, _ := e.KnownCanonical()
		p, err := e.CanonicalPayload()
		if err != nil {
			t.Fatal(err)
		}
		if string(p) != string(e.Payload) {
			t.Fatalf("canonical payload differs from a canonical Payload")
		}
		if took := &p[0] == &e.Payload[0]; took != k {
			t.Fatalf("took Payload as it is: %v, known canonical: %v", took, k)
		}
		return k
	}
	if _, checked := env.KnownCanonical(); !known(env) || !checked {
		t.Error("NewEnvelope's payload is not known canonical")
	}
	cp := *env
	if !known(&cp) {
		t.Error("a copy of the envelope forgot its payload")
	}
	b, _ := json.Marshal(env)
	dec, err := contracts.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, checked := dec.KnownCanonical(); !known(dec) || !checked {
		t.Error("DecodeEnvelope's payload is not known canonical")
	}
	var generic contracts.Envelope
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if known(&generic) {
		t.Error("a payload from encoding/json is known canonical")
	}
	cp.Payload = append([]byte(nil), env.Payload...)
	if known(&cp) {
		t.Error("an equal copy of the payload is known canonical")
	}
	cp.Payload = env.Payload[:len(env.Payload):len(env.Payload)]
	if !known(&cp) {
		t.Error("the same slice with less capacity is not known canonical")
	}
	canon, err := contracts.CanonicalizeJSONEdit(env.Payload, map[string]*contracts.Edits{"worker": {Drop: true}})
	if err != nil {
		t.Fatal(err)
	}
	env.SetPayload(canon)
	if _, checked := env.KnownCanonical(); !known(env) || checked {
		t.Error("SetPayload's payload is not known canonical, or known checked")
	}
	if env.PayloadDigest != contracts.PayloadDigest(canon) {
		t.Error("SetPayload did not set the digest")
	}
}

// TestKnownPayloadTampered checks that what the envelope knows of its
// payload never lets a tampered payload verify: not a new slice, and not the
// same slice with its bytes changed, with or without the digest to match.
func TestKnownPayloadTampered(t *testing.T) {
	g := generator(t)
	for _, kp := range keys(t) {
		t.Run(kp.name, func(t *testing.T) {
			tampers := []struct {
				name string
				mut  func(e *contracts.Envelope)
			}{
				{"new slice", func(e *contracts.Envelope) {
					e.Payload = bytes.Replace(e.Payload, []byte(`"from":"51"`), []byte(`"from":"52"`), 1)
				}},
				{"bytes changed", func(e *contracts.Envelope) {
					i := bytes.Index(e.Payload, []byte(`"from":"51"`))
					e.Payload[i+len(`"from":"5`)] = '2'
				}},
				{"bytes and digest changed", func(e *contracts.Envelope) {
					i := bytes.Index(e.Payload, []byte(`"from":"51"`))
					e.Payload[i+len(`"from":"5`)] = '2'
					e.PayloadDigest = contracts.PayloadDigest(e.Payload)
				}},
				{"bytes made non-canonical and digest changed", func(e *contracts.Envelope) {
					e.Payload[len(e.Payload)-1] = ' '
					e.PayloadDigest = contracts.PayloadDigest(e.Payload)
				}},
			}
			for _, tc := range tampers {
				t.Run(tc.name, func(t *testing.T) {
					alone := sealed(t, g)
					if err := alone.Sign(kp.priv, signerURI); err != nil {
						t.Fatal(err)
					}
					b, _ := json.Marshal(alone)
					decoded, err := contracts.DecodeEnvelope(b)
					if err != nil {
						t.Fatal(err)
					}
					batch := []*contracts.Envelope{sealed(t, g), sealed(t, g)}
					if err := contracts.SignBatch(batch, kp.priv, signerURI); err != nil {
						t.Fatal(err)
					}
					for _, e := range []*contracts.Envelope{alone, decoded, batch[0]} {
						tc.mut(e)
						if err := e.Verify(kp.priv.Public()); err == nil {
							t.Error("tampered envelope verified")
						}
						if e.Batch != nil {
							if err := contracts.VerifyInBatch(e, kp.priv.Public()); err == nil {
								t.Error("tampered envelope verified in its batch")
							}
						}
					}
					if err := contracts.VerifyInBatch(batch[1], kp.priv.Public()); err != nil {
						t.Errorf("untouched envelope of the batch: %v", err)
					}
				})
			}
		})
	}
}

// TestSetPayload checks that a canonical payload set with SetPayload signs,
// travels and verifies, and that one that is not canonical fails Verify and
// VerifyInBatch, and the destination, even though it was signed as it is.
func TestSetPayload(t *testing.T) {
	g := generator(t)
	masked := map[string]*contracts.Edits{"worker": {Members: map[string]*contracts.Edits{"name": {Replace: func(string) string { return "*" }}}}}
	for _, kp := range keys(t) {
		t.Run(kp.name, func(t *testing.T) {
			env := sealed(t, g)
			canon, err := contracts.CanonicalizeJSONEdit(env.Payload, masked)
			if err != nil {
				t.Fatal(err)
			}
			env.SetPayload(canon)
			arrivesMasked(t, env, kp)

			for _, bad := range []string{" " + string(canon), string(canon) + "\n", `{"b":1,"a":2}`, `{"a":1.0}`, `{"a":1,"a":1}`, `[]`, `{"a":`} {
				alone := sealed(t, g)
				alone.SetPayload([]byte(bad))
				_ = alone.Sign(kp.priv, signerURI) // signs the bytes as they are
				if err := alone.Verify(kp.priv.Public()); err == nil {
					t.Errorf("%.20q: verified", bad)
				}
				if b, err := alone.AppendJSON(nil); err == nil {
					if _, err := contracts.DecodeEnvelope(b); err == nil {
						t.Errorf("%.20q: decoded at the destination", bad)
					}
				}
				batch := []*contracts.Envelope{sealed(t, g), sealed(t, g)}
				batch[0].SetPayload([]byte(bad))
				_ = contracts.SignBatch(batch, kp.priv, signerURI)
				if batch[0].Batch != nil {
					if err := contracts.VerifyInBatch(batch[0], kp.priv.Public()); err == nil {
						t.Errorf("%.20q: verified in a batch", bad)
					}
					if err := contracts.VerifyInBatch(batch[1], kp.priv.Public()); err != nil {
						t.Errorf("%.20q: its neighbour in the batch: %v", bad, err)
					}
				}
			}
		})
	}
}

// TestNewEnvelopeEdited seals a record edited on the way to the payload the
// same as NewEnvelope then SetPayload of the edited payload would, whether
// the encoder carries out the edits or ApplyCanonical does; the latter keeps
// nothing of the buffer it was given. A failing edit names itself.
func TestNewEnvelopeEdited(t *testing.T) {
	g := generator(t)
	rec := g.Transfer()
	masked := map[string]*contracts.Edits{"worker": {Members: map[string]*contracts.Edits{"name": {Replace: func(string) string { return "*" }}}}}
	want, err := contracts.NewEnvelope(rec, 2, testNow)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := contracts.EditCanonicalJSON(want.Payload, masked)
	if err != nil {
		t.Fatal(err)
	}
	want.SetPayload(canon)

	var given []byte
	tests := []struct {
		name string
		edit editor
	}{
		{"one pass", editor{edits: masked, apply: func([]byte) ([]byte, error) {
			t.Error("ApplyCanonical called for edits the encoder carries out")
			return nil, errors.New("not expected")
		}}},
		{"two passes", editor{apply: func(canon []byte) ([]byte, error) {
			given = canon
			return contracts.EditCanonicalJSON(canon, masked)
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			given = nil
			env, err := contracts.NewEnvelopeEdited(rec, 2, testNow, tt.edit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(env.Payload, want.Payload) || env.PayloadDigest != want.PayloadDigest {
				t.Fatalf("payload %s (%s), want %s (%s)", env.Payload, env.PayloadDigest, want.Payload, want.PayloadDigest)
			}
			if given != nil && &given[0] == &env.Payload[0] {
				t.Fatal("the payload is the buffer the edit was given")
			}
			for i := range given {
				given[i] = 'x' // the buffer is reused: nothing of the envelope may change
			}
			arrivesMasked(t, env, keys(t)[0])
		})
	}

	refuse := func([]byte) ([]byte, error) { return nil, errors.New("mask refused") }
	wage := map[string]*contracts.Edits{"placement": {Members: map[string]*contracts.Edits{"monthly_wage_fen": {Replace: strings.ToUpper}}}}
	for _, edit := range []editor{{apply: refuse}, {edits: wage, apply: refuse}} {
		_, err = contracts.NewEnvelopeEdited(rec, 2, testNow, edit)
		if err == nil || !strings.Contains(err.Error(), "mask refused") {
			t.Fatalf("a failing edit: got %v", err)
		}
	}
}

// arrivesMasked signs env with kp, and checks that it verifies, and that
// the destination decodes and verifies it with its worker's name masked.
func arrivesMasked(t *testing.T, env *contracts.Envelope, kp keyPair) {
	t.Helper()
	if err := env.Sign(kp.priv, signerURI); err != nil {
		t.Fatal(err)
	}
	if err := env.Verify(kp.priv.Public()); err != nil {
		t.Fatal(err)
	}
	b, err := env.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := contracts.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(kp.priv.Public()); err != nil {
		t.Fatalf("at the destination: %v", err)
	}
	if rec, err := back.Record(); err != nil || rec.(*contracts.Transfer).Worker.Name != "*" {
		t.Fatalf("record %v, %v", rec, err)
	}
}

// TestEnvelopeType reads the type from what AppendJSON writes and, the slow
// way, from any other encoding of an envelope.
func TestEnvelopeType(t *testing.T) {
	g := generator(t)
	for _, rec := range []contracts.Record{g.Transfer(), g.Referral()} {
		env, err := contracts.NewEnvelope(rec, 1, testNow)
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := contracts.EnvelopeType(b); got != env.Type {
			t.Errorf("AppendJSON's encoding: %q, want %q", got, env.Type)
		}
		// The same members in another order and spacing.
		var generic map[string]any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatal(err)
		}
		indented, _ := json.MarshalIndent(generic, "", "  ")
		if got := contracts.EnvelopeType(indented); got != env.Type {
			t.Errorf("another encoding: %q, want %q", got, env.Type)
		}
	}
	for _, doc := range []string{`{"id":"x"}`, `{"id":"x","type":7}`, `not json`, ``} {
		if got := contracts.EnvelopeType([]byte(doc)); got != "" {
			t.Errorf("%s: %q, want none", doc, got)
		}
	}
	if got := contracts.EnvelopeType([]byte(`{"id":"a\"b","type":"transfer"}`)); got != "transfer" {
		t.Errorf("an id with an escape: %q, want transfer", got)
	}
}
