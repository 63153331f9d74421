package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOnlyLeavesShapedAsIssuedAreIdentities: a certificate the province
// CA signed but not shaped as this package issues leaves is no identity,
// whatever tool made it: a CA or a certificate that may sign others
// (CertProvince would read its province from name constraints, and the
// registry's revocations, keyed by the identity's province, would never
// name it), a serial no revocation can name, or no extended key usage
// (x509 takes it as good for any use, a server's too), or a kind other
// than node that may serve (server auth, or any usage): a client that
// takes any member as its server would take it. The leaf as issued
// passes.
func TestOnlyLeavesShapedAsIssuedAreIdentities(t *testing.T) {
	f := newFederation(t, "51")
	ca := f.CAs["51"]
	v := &Verifier{Roots: f.Roots(), Domain: testDomain}
	for _, c := range []struct {
		name, want string
		mod        func(*x509.Certificate)
	}{
		{"as issued", "", func(*x509.Certificate) {}},
		{"basicConstraints CA:TRUE", "is a CA", func(c *x509.Certificate) { c.IsCA = true; c.KeyUsage |= x509.KeyUsageCertSign }},
		{"keyUsage keyCertSign|cRLSign", "may sign certificates or CRLs", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign }},
		{"serial 0", "serial 0", func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) }},
		{"no extended key usage", "no extended key usage", func(c *x509.Certificate) { c.ExtKeyUsage = nil }},
		{"node with server auth", "", func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}},
		{"system with server auth", "only node certificates serve", func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "p51." + testDomain, Path: "/system/crafted"}}
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}},
		{"admin with any extended key usage", "only node certificates serve", func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "p51." + testDomain, Path: "/admin/crafted"}}
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		}},
	} {
		cert := craftLeaf(t, ca, c.mod)
		id, err := v.Verify([]*x509.Certificate{cert, ca.Cert}, x509.ExtKeyUsageClientAuth)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v; want accepted", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: accepted as %s, err %v; want refused saying %q", c.name, id, err, c.want)
		}
	}
}

// TestURISANMustBeCanonicalByteForByte: Go's parser drops an empty
// fragment or query from a URI SAN, so a certificate naming
// "spiffe://p51.../node/gw-1#" would read as p51/node/gw-1 here and as
// another name to OpenSSL; it is refused.
func TestURISANMustBeCanonicalByteForByte(t *testing.T) {
	f := newFederation(t, "51")
	ca := f.CAs["51"]
	for _, raw := range []string{"spiffe://p51.laborlink.example/node/gw-1#", "spiffe://p51.laborlink.example/node/gw-1?"} {
		san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(raw)}})
		if err != nil {
			t.Fatal(err)
		}
		cert := craftLeaf(t, ca, func(c *x509.Certificate) {
			c.URIs = nil
			c.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Value: san}}
		})
		if id, err := IdentityFromCert(cert); !errors.Is(err, ErrMalformedIdentity) {
			t.Errorf("URI SAN %q: read as %s, err %v; want refused as malformed", raw, id.URI(), err)
		}
	}
}

// craftLeaf signs a leaf template with the province CA's key, as a tool
// other than this package would, changed by mod.
func craftLeaf(t *testing.T, ca *CA, mod func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://p51." + testDomain + "/node/crafted")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "crafted"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:                  []*url.URL{u},
		BasicConstraintsValid: true,
	}
	mod(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
