package registry_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/helpers"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestACALeafSignsNoCommand: a certificate of province 51's CA with
// basicConstraints CA:TRUE and an admin's identity (what a careless
// OpenSSL template makes) is no admin: the registry's revocations are
// keyed by the identity's province, which such a certificate was read
// not to have, so once revoked it would still have signed commands.
func TestACALeafSignsNoCommand(t *testing.T) {
	f := newFixture(t)
	ca, err := f.p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(ca.Dir, pki.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://p51." + regtest.Domain + "/admin/hr")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5151), Subject: pkix.Name{CommonName: "p51 admin hr"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{u},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := pki.NewSigner(key, []*x509.Certificate{leaf, ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, sg, registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "51"}); r.Err == nil {
		t.Errorf("a command signed by a CA:TRUE certificate naming p51/admin/hr was applied")
	}
}
