package pki

import (
	"os"
	"testing"
)

// TestKeyPairGenerationMovesWithTheCertificate: Generation moves once when
// a rotated pair is taken, and not while the files are unchanged or only
// half rotated (the old pair still served).
func TestKeyPairGenerationMovesWithTheCertificate(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	want := func(gen uint64, when string) {
		t.Helper()
		if _, err := kp.Certificate(); err != nil {
			t.Fatal(err)
		}
		if got := kp.Generation(); got != gen {
			t.Errorf("%s: generation %d, want %d", when, got, gen)
		}
	}
	want(0, "files unchanged")
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	bCert, _ := os.ReadFile(b.CertFile)
	if err := writeFileAtomic(certFile, bCert, 0o644); err != nil {
		t.Fatal(err)
	}
	want(0, "the certificate replaced before its key")
	bKey, _ := os.ReadFile(b.KeyFile)
	if err := writeFileAtomic(keyFile, bKey, 0o600); err != nil {
		t.Fatal(err)
	}
	want(1, "the rotated pair taken")
	want(1, "the rotated pair checked again")
}

// TestPresentedFallsBehindARotation: what a client made before a
// rotation presents is Behind what one made after it does, and only then.
func TestPresentedFallsBehindARotation(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	before := kp.Presenting()
	if _, err := kp.Certificate(); err != nil {
		t.Fatal(err)
	}
	if now := kp.Presenting(); before.Behind(now) || now.Behind(before) {
		t.Error("Behind with the files unchanged")
	}
	putPair(t, issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true}), certFile, keyFile)
	if _, err := kp.Certificate(); err != nil {
		t.Fatal(err)
	}
	after := kp.Presenting()
	if !before.Behind(after) {
		t.Error("a client made before the rotation is not Behind one made after it")
	}
	if after.Behind(before) || after.Behind(after) {
		t.Error("a client made after the rotation is Behind")
	}
	if (Presented{}).Behind(before) {
		t.Error("the zero Presented is Behind a key pair never reloaded")
	}
}
