package registry_test

import (
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/pki"
)

// BenchmarkVerifyAgain is what a node pays at each request on a
// connection (gateway/node's refuseLapsed): the chain its handshake
// verified is verified again against the registry's current revocations,
// members and CA listing, as the node's verifier asks them.
func BenchmarkVerifyAgain(b *testing.B) {
	f := newFixture(b)
	for i := range 100 {
		f.must(b, f.a51, registry.OpCertRevoke, registry.RevokeBody{Serial: fmt.Sprintf("%x", 0x1000+i), Province: "51"})
	}
	crls := pki.NewRevocationList()
	s := f.s
	v := &pki.Verifier{Roots: f.p.Fed.Roots(), Domain: f.p.Domain,
		Revocation: pki.RevokedFunc(func(c *x509.Certificate) bool { return crls.Revoked(c) || s.Revoked(c) }),
		Member:     s.IsMember, ListedCA: s.ListsCA}
	chain := f.p.Signer(b, "51", pki.KindSystem, "hr").Chain()
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
			b.Fatal(err)
		}
	}
}
