package contracts_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// headerVariants are ways an envelope can differ from another of the
// same id and payload: each header member its origin signs.
var headerVariants = []struct {
	member string
	change func(*contracts.Envelope)
}{
	{"type", func(e *contracts.Envelope) { e.Type = contracts.RecordConfirmation }},
	{"schema", func(e *contracts.Envelope) { e.Schema = contracts.SchemaConfirmation }},
	{"origin", func(e *contracts.Envelope) { e.Origin = "33" }},
	{"destination", func(e *contracts.Envelope) { e.Destination = "33" }},
	{"agreement_id", func(e *contracts.Envelope) { e.AgreementID += "x" }},
	{"agreement_version", func(e *contracts.Envelope) { e.AgreementVersion++ }},
	{"purpose", func(e *contracts.Envelope) { e.Purpose += "x" }},
	{"created", func(e *contracts.Envelope) { e.Created = e.Created.Add(time.Millisecond) }},
	{"signer", func(e *contracts.Envelope) { e.Signer += "x" }},
}

// variant is a copy of env, its payload and payload digest the same, with
// one header member changed, signed anew by key as its origin would.
func variant(t *testing.T, env *contracts.Envelope, change func(*contracts.Envelope), key *keyPair) *contracts.Envelope {
	t.Helper()
	v := *env
	change(&v)
	signer := v.Signer
	if err := v.Sign(key.priv, signer); err != nil {
		t.Fatal(err)
	}
	if v.ID != env.ID || v.PayloadDigest != env.PayloadDigest {
		t.Fatal("the variant is not of the same id and payload")
	}
	return &v
}

// TestBoundReceiptBindsEveryHeader: a receipt bound to its envelope
// (NewBoundReceipt) matches that envelope and no other of the same id and
// payload that differs in any header member, by Matches and, with the
// other's signing digest, by MatchesDigest.
func TestBoundReceiptBindsEveryHeader(t *testing.T) {
	g := generator(t)
	for _, kp := range keys(t) {
		t.Run(kp.name, func(t *testing.T) {
			env := sealed(t, g)
			if err := env.Sign(kp.priv, signerURI); err != nil {
				t.Fatal(err)
			}
			verified, err := env.VerifyAndDigest(kp.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			d, err := env.SigningDigest()
			if err != nil || verified != d {
				t.Fatalf("VerifyAndDigest gave %x, the signing digest is %x (%v)", verified, d, err)
			}
			r := contracts.NewBoundReceipt(env, verified, contracts.ReceiptStored, "", testNow)
			if err := r.Sign(kp.priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
				t.Fatal(err)
			}
			if r.EnvelopeDigest != contracts.FormatDigest(d) {
				t.Fatalf("envelope_digest %q, want %q", r.EnvelopeDigest, contracts.FormatDigest(d))
			}
			if err := r.Verify(kp.priv.Public()); err != nil {
				t.Fatal(err)
			}
			if !r.Matches(env) || !r.MatchesDigest(d) {
				t.Fatal("the receipt does not match its own envelope")
			}
			for _, hv := range headerVariants {
				other := variant(t, env, hv.change, &kp)
				od, err := other.SigningDigest()
				if err != nil {
					t.Fatal(err)
				}
				if r.Matches(other) || r.MatchesDigest(od) {
					t.Errorf("the receipt matches an envelope of another %s", hv.member)
				}
			}
		})
	}
}

// TestEnvelopeDigestIsSigned: the envelope digest is under the receipt's
// signature: changed, or taken out to make the receipt look like one of an
// earlier release, the receipt no longer verifies.
func TestEnvelopeDigestIsSigned(t *testing.T) {
	g := generator(t)
	kp := keys(t)[0]
	env := sealed(t, g)
	d, err := env.SigningDigest()
	if err != nil {
		t.Fatal(err)
	}
	rs := []*contracts.Receipt{
		contracts.NewBoundReceipt(env, d, contracts.ReceiptStored, "", testNow),
		contracts.NewBoundReceipt(env, d, contracts.ReceiptDuplicate, "", testNow),
	}
	if err := rs[0].Sign(kp.priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
		t.Fatal(err)
	}
	if err := contracts.SignReceipts(rs[1:], kp.priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		for _, digest := range []string{"", contracts.FormatDigest([32]byte{1})} {
			bad := *r
			bad.EnvelopeDigest = digest
			if err := bad.Verify(kp.priv.Public()); !errors.Is(err, contracts.ErrSignature) {
				t.Errorf("%s receipt with envelope_digest %q: %v, want ErrSignature", r.Status, digest, err)
			}
		}
	}
}

// TestUnboundReceiptMatchesByIDAndPayload: a receipt without an envelope
// digest, as destinations of earlier releases sign and as a destination
// signs for an origin that does not ask for one, is held to the id and
// payload digest alone, as it always was.
func TestUnboundReceiptMatchesByIDAndPayload(t *testing.T) {
	g := generator(t)
	kp := keys(t)[1]
	env := sealed(t, g)
	if err := env.Sign(kp.priv, signerURI); err != nil {
		t.Fatal(err)
	}
	r := contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
	if r.EnvelopeDigest != "" {
		t.Fatalf("NewReceipt bound the receipt: %q", r.EnvelopeDigest)
	}
	other := variant(t, env, headerVariants[5].change, &kp)
	od, err := other.SigningDigest()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Matches(env) || !r.Matches(other) || !r.MatchesDigest(od) {
		t.Error("a receipt without an envelope digest is refused for the envelope of its id and payload")
	}
	elsewise := *env
	elsewise.PayloadDigest = contracts.PayloadDigest([]byte("{}"))
	if r.Matches(&elsewise) {
		t.Error("a receipt matches an envelope of another payload")
	}
}

// TestReceiptsOfEarlierReleasesStillRead: a receipt as a destination of a
// release before envelope digests signed it (the example, byte for byte)
// decodes, verifies, matches its envelope and encodes again without the
// member; the example of this release's binds the envelope.
func TestReceiptsOfEarlierReleasesStillRead(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32)) // the examples' key
	data, err := os.ReadFile("testdata/valid/envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	env, err := contracts.DecodeEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	other := *env
	other.AgreementVersion++
	for _, tc := range []struct {
		file  string
		bound bool
	}{{"testdata/valid/receipt.json", false}, {"testdata/valid/receipt-bound.json", true}} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := contracts.DecodeReceipt(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if err := r.Verify(key.Public()); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
		if !r.Matches(env) {
			t.Errorf("%s does not match its envelope", tc.file)
		}
		if r.Matches(&other) == tc.bound {
			t.Errorf("%s matches the envelope of another agreement version: %v, want %v", tc.file, r.Matches(&other), !tc.bound)
		}
		if (r.EnvelopeDigest != "") != tc.bound {
			t.Errorf("%s: envelope_digest %q", tc.file, r.EnvelopeDigest)
		}
		b, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := contracts.DecodeReceipt(b)
		if err != nil || back.Verify(key.Public()) != nil {
			t.Errorf("%s encoded again: %s, %v", tc.file, b, err)
		}
	}
}
