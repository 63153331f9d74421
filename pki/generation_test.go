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
