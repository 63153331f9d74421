// Package pkitest builds a real federation PKI for tests: a root and a CA
// per province in a temporary directory, leaves issued by those CAs, and the
// signers and mutual-TLS builders made from them. Test fixtures of the
// gateway and of the federation registry build on it. Nothing here is a
// mock.
package pkitest

import (
	"encoding/pem"
	"net"
	"testing"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// PKI is a whole federation PKI in a temporary directory.
type PKI struct {
	// Fed is the federation: its root and the province CAs.
	Fed *pki.Federation
	// Domain is the federation domain; verifiers refuse any other.
	Domain string
}

// New creates a federation of domain with a root and a CA for each province
// in a temporary directory of t.
func New(t testing.TB, domain string, provinces ...string) *PKI {
	t.Helper()
	f, err := pki.CreateFederation(t.TempDir(), domain, provinces, pki.FederationOptions{})
	if err != nil {
		t.Fatalf("create test federation: %v", err)
	}
	return &PKI{Fed: f, Domain: domain}
}

// Issue issues a leaf of kind for name in province; node certificates are
// valid for 127.0.0.1, so that nodes can serve on loopback.
func (p *PKI) Issue(t testing.TB, province string, kind pki.Kind, name string) *pki.Leaf {
	t.Helper()
	ca, err := p.Fed.CA(province)
	if err != nil {
		t.Fatal(err)
	}
	req := pki.IssueRequest{Kind: kind, Name: name, OutDir: t.TempDir()}
	if kind == pki.KindNode {
		req.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	leaf, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("issue %s %s/%s: %v", kind, province, name, err)
	}
	return leaf
}

// Verifier verifies chains against the federation root and domain, refusing
// what revoked reports (nothing if revoked is nil).
func (p *PKI) Verifier(revoked pki.RevocationChecker) *pki.Verifier {
	return &pki.Verifier{Roots: p.Fed.Roots(), Revocation: revoked, Domain: p.Domain}
}

// TLS returns the mutual-TLS builder of a leaf, verifying peers as
// Verifier(revoked) does.
func (p *PKI) TLS(t testing.TB, leaf *pki.Leaf, revoked pki.RevocationChecker) *pki.TLS {
	t.Helper()
	kp, err := pki.LoadKeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.TLS{KeyPair: kp, Verifier: p.Verifier(revoked)}
}

// RootPEM is the federation root certificate in PEM, as parties receive it.
func (p *PKI) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Fed.Root.Cert.Raw})
}

// Signer loads a leaf's key and chain as a signer of records and commands.
func Signer(t testing.TB, leaf *pki.Leaf) *pki.Signer {
	t.Helper()
	s, err := pki.LoadSigner(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Eventually polls cond until it holds, failing the test once within has
// passed: tests wait on conditions, never on fixed sleeps.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
