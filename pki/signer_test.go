package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	f := newFederation(t, "51", "44")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	s, err := LoadSigner(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Identity() != leaf.Identity {
		t.Errorf("signer identity %v", s.Identity())
	}
	msg := []byte(`{"envelope":"e-1"}`)
	digest := sha256.Sum256(msg)
	// Through the crypto.Signer interface, as contracts will call it.
	var cs crypto.Signer = s
	sig, err := cs.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig2, err := s.SignMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range [][]byte{sig, sig2} {
		id, err := VerifySignature(s.Chain(), f.Roots(), digest[:], sg)
		if err != nil || id != leaf.Identity {
			t.Errorf("VerifySignature = %v, %v", id, err)
		}
	}

	other := newFederation(t, "51")
	forged := forge(t, f.CAs["51"], "spiffe://p44.laborlink.example/node/gw-1", nil)
	forgedSigner, err := LoadSigner(forged.CertFile, forged.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	forgedSig, _ := forgedSigner.SignMessage(msg)
	tampered := sha256.Sum256([]byte(`{"envelope":"e-2"}`))
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		roots  *x509.CertPool
		digest []byte
		sig    []byte
		want   error
	}{
		{"tampered message", s.Chain(), f.Roots(), tampered[:], sig, ErrBadSignature},
		{"signature by someone else", s.Chain(), f.Roots(), digest[:], forgedSig, ErrBadSignature},
		{"other federation's root", s.Chain(), other.Roots(), digest[:], sig, ErrUnknownAuthority},
		{"forged p44 chain", forgedSigner.Chain(), f.Roots(), digest[:], forgedSig, ErrNameConstraint},
		{"no chain", nil, f.Roots(), digest[:], sig, ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifySignature(tt.chain, tt.roots, tt.digest, tt.sig); !errors.Is(err, tt.want) {
				t.Errorf("VerifySignature error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := VerifySignature(s.Chain(), f.Roots(), msg, sig); err == nil {
		t.Error("VerifySignature accepted a message in place of a digest")
	}
}

// TestVerifySignatureAtRecordTime: a registry replaying old entries
// verifies with the entry's time, so an expired signer stays valid for
// what it signed while it was valid.
func TestVerifySignatureAtRecordTime(t *testing.T) {
	f := newFederation(t, "51")
	now := time.Now()
	leaf := issue(t, f, "51", IssueRequest{Kind: KindAdmin, Name: "zhang", NotBefore: now.Add(-10 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	s, err := LoadSigner(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("approve agreement a-1 v3"))
	sig, _ := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if _, err := VerifySignature(s.Chain(), f.Roots(), d[:], sig); !errors.Is(err, ErrExpired) {
		t.Errorf("now: %v, want ErrExpired", err)
	}
	v := &Verifier{Roots: f.Roots(), Now: func() time.Time { return now.Add(-5 * 24 * time.Hour) }}
	if id, err := v.VerifySignature(s.Chain(), d[:], sig); err != nil || id.Kind != KindAdmin {
		t.Errorf("at record time: %v, %v", id, err)
	}
}

func TestKeyPairSigner(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, err := LoadKeyPair(leaf.CertFile, leaf.KeyFile, WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	s, err := kp.Signer()
	if err != nil || s.Identity() != leaf.Identity || len(s.Chain()) != 2 {
		t.Fatalf("KeyPair.Signer = %v, %v", s, err)
	}
	if _, err := NewSigner(nil, nil); err == nil {
		t.Error("NewSigner without key succeeded")
	}
	other := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-2"})
	otherSigner, _ := LoadSigner(other.CertFile, other.KeyFile)
	if _, err := NewSigner(otherSigner.key, s.Chain()); err == nil {
		t.Error("NewSigner with a mismatched key succeeded")
	}
}
