package pki

import (
	"crypto/x509"
	"testing"
)

// parsedAgain is cert as another connection presents it: the same bytes,
// parsed anew.
func parsedAgain(t *testing.T, cert *x509.Certificate) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRememberedChainsAreThePresentedOnes: a verifier finds a chain it
// built again by the certificates presented, but only the same chain: the
// same leaf with another intermediate is verified on its own, and so is
// the same chain parsed anew.
func TestRememberedChainsAreThePresentedOnes(t *testing.T) {
	f := newFederation(t, "51", "44")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	v := &Verifier{Roots: f.Roots()}
	for _, c := range []struct {
		what  string
		chain []*x509.Certificate
		ok    bool
	}{
		{"the chain", []*x509.Certificate{leaf.Cert, f.CAs["51"].Cert}, true},
		{"the leaf with another province's CA", []*x509.Certificate{leaf.Cert, f.CAs["44"].Cert}, false},
		{"the leaf alone", []*x509.Certificate{leaf.Cert}, false},
		{"the chain parsed again", []*x509.Certificate{parsedAgain(t, leaf.Cert), parsedAgain(t, f.CAs["51"].Cert)}, true},
		{"the leaf parsed again with another province's CA", []*x509.Certificate{parsedAgain(t, leaf.Cert), f.CAs["44"].Cert}, false},
	} {
		for range 2 {
			if _, err := v.Verify(c.chain, x509.ExtKeyUsageClientAuth); (err == nil) != c.ok {
				t.Errorf("%s: %v, want success %v", c.what, err, c.ok)
			}
		}
	}
}

// TestRememberedChainsAreBounded: a verifier that sees ever new
// connections remembers at most maxVerified of their chains.
func TestRememberedChainsAreBounded(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	v := &Verifier{Roots: f.Roots()}
	for range maxVerified + 1 {
		chain := []*x509.Certificate{parsedAgain(t, leaf.Cert), parsedAgain(t, f.CAs["51"].Cert)}
		if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.presented); n == 0 || n > maxVerified {
		t.Errorf("remembers %d presented chains, want 1 to %d", n, maxVerified)
	}
}
