package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestKeyPairReloadInterval(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	kp, err := LoadKeyPair(a.CertFile, a.KeyFile, WithReloadInterval(time.Minute), WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		c, err := kp.Certificate()
		if err != nil {
			t.Fatal(err)
		}
		return serialString(c.Leaf.SerialNumber)
	}
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	clock.advance(30 * time.Second)
	if got := serial(); got != serialString(a.Cert.SerialNumber) {
		t.Errorf("reloaded before the interval: %s", got)
	}
	clock.advance(31 * time.Second)
	if got := serial(); got != serialString(b.Cert.SerialNumber) {
		t.Errorf("after the interval got %s, want the new %s", got, serialString(b.Cert.SerialNumber))
	}
}

// TestKeyPairKeepsOldPairOnHalfRotation: a certificate replaced before its
// key does not break the server; the old pair stays until both match.
func TestKeyPairKeepsOldPairOnHalfRotation(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true}) // renewed
	bCert, _ := os.ReadFile(b.CertFile)
	if err := writeFileAtomic(certFile, bCert, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := kp.Certificate()
	if err != nil || !c.Leaf.Equal(a.Cert) {
		t.Fatalf("half rotation: got %v, %v; want the old certificate", c.Leaf.Subject, err)
	}
	if err := kp.LastError(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("LastError = %v", err)
	}
	bKey, _ := os.ReadFile(b.KeyFile)
	if err := writeFileAtomic(keyFile, bKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _ := kp.Certificate(); !c.Leaf.Equal(b.Cert) || kp.LastError() != nil {
		t.Errorf("after the key arrived: %v, %v", c.Leaf.Subject, kp.LastError())
	}
}

// TestKeyPairKeepsItsIdentity: a rotation renews a certificate under its
// identity; a pair of another node or kind copied over it by mistake is
// not served as this node (every peer would refuse it), and LastError
// says why. The old pair stays in use.
func TestKeyPairKeepsItsIdentity(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	for _, other := range []*Leaf{
		issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-2"}),
		issue(t, f, "51", IssueRequest{Kind: KindSystem, Name: "gw-1"}),
	} {
		otherCert, _ := os.ReadFile(other.CertFile)
		otherKey, _ := os.ReadFile(other.KeyFile)
		if err := writeFileAtomic(keyFile, otherKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(certFile, otherCert, 0o644); err != nil {
			t.Fatal(err)
		}
		c, _ := kp.Certificate()
		if !c.Leaf.Equal(a.Cert) {
			t.Errorf("a pair of %s copied over p51/node/gw-1's is served", c.Leaf.Subject)
		}
		if err := kp.LastError(); err == nil || !strings.Contains(err.Error(), "p51/node/gw-1") || !strings.Contains(err.Error(), "restart") {
			t.Errorf("LastError = %v; want it to name the identity in use and the restart a new one takes", err)
		}
	}
}

// loadCopy loads a KeyPair, checked on every use, from a copy of a leaf's
// files (copyPair), and returns it with the copy's files.
func loadCopy(t *testing.T, l *Leaf) (kp *KeyPair, certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = copyPair(t, l)
	kp, err := LoadKeyPair(certFile, keyFile, WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	return kp, certFile, keyFile
}

// copyPair copies a leaf's certificate and key to files of their own, so
// that issuing again under its name leaves them be.
func copyPair(t *testing.T, l *Leaf) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = dir+"/cert.pem", dir+"/key.pem"
	for _, c := range [][2]string{{l.CertFile, certFile}, {l.KeyFile, keyFile}} {
		b, err := os.ReadFile(c[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(c[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func TestLoadKeyPairErrors(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-2"})
	if _, err := LoadKeyPair(a.CertFile, b.KeyFile); err == nil {
		t.Error("mismatched pair loaded")
	}
	if _, err := LoadKeyPair(a.CertFile+".missing", a.KeyFile); err == nil {
		t.Error("missing certificate loaded")
	}
	// A CA certificate carries no identity, so it is no key pair for TLS.
	if _, err := LoadKeyPair(f.ProvinceDir("51")+"/"+CACertFile, f.ProvinceDir("51")+"/"+CAKeyFile); err == nil {
		t.Error("a CA certificate loaded as a TLS key pair")
	}
}

// TestKeyPairKeepsAValidCertificate: a certificate that is not valid now
// (an expired one restored from an old backup, one dated ahead) is not
// served in place of one that is; LastError says why, naming the file, in
// the words and with the sentinel peer verification uses.
func TestKeyPairKeepsAValidCertificate(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	ca := f.CAs["51"]
	for _, c := range []struct {
		name             string
		notBefore, after time.Duration // from now
		want             error
		wantMsg          string
	}{
		{"expired", -48 * time.Hour, -time.Hour, ErrExpired, "certificate expired at "},
		{"not valid yet", time.Hour, 48 * time.Hour, ErrNotYetValid, "certificate not yet valid until "},
	} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse("spiffe://p51." + testDomain + "/node/gw-1")
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "p51 node gw-1"},
			NotBefore: time.Now().Add(c.notBefore), NotAfter: time.Now().Add(c.after),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			URIs: []*url.URL{u}, BasicConstraintsValid: true,
		}, ca.Cert, &key.PublicKey, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...)
		if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(certFile, chain, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := kp.Certificate(); !got.Leaf.Equal(a.Cert) {
			t.Errorf("%s: a certificate valid from %s to %s is served", c.name, got.Leaf.NotBefore, got.Leaf.NotAfter)
		}
		err = kp.LastError()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), certFile+" now holds a "+c.wantMsg) {
			t.Errorf("%s: LastError = %v; want %v, saying %s now holds a %q", c.name, err, c.want, certFile, c.wantMsg)
		}
	}
}

// TestKeyPairSeesContentNotFileTimes: a pair rewritten in place (the same
// inode) within the file system's timestamp granularity and at the same
// size, as cp or a configuration tool may leave it, is still a new pair:
// the node must serve it, not the one it replaced (which may be revoked).
func TestKeyPairSeesContentNotFileTimes(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	certFile, keyFile := copyPair(t, a)
	// PEM ignores text after the last block: the files in use get room for
	// the new ones, which are padded to the same size.
	for _, file := range []string{certFile, keyFile} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(data, strings.Repeat("\n", 64)...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kp, err := LoadKeyPair(certFile, keyFile, WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	for _, c := range [][2]string{{b.CertFile, certFile}, {b.KeyFile, keyFile}} {
		old, err := os.Stat(c[1])
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(c[0])
		if err != nil {
			t.Fatal(err)
		}
		for len(data) < int(old.Size()) {
			data = append(data, '\n')
		}
		if err := os.WriteFile(c[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(c[1], old.ModTime(), old.ModTime()); err != nil {
			t.Fatal(err)
		}
		if now, err := os.Stat(c[1]); err != nil || !os.SameFile(old, now) || now.Size() != old.Size() || !now.ModTime().Equal(old.ModTime()) {
			t.Fatalf("%s was not rewritten in place at the same size and time: %v", c[1], err)
		}
	}
	if c, _ := kp.Certificate(); !c.Leaf.Equal(b.Cert) {
		t.Errorf("serving serial %s after the files were rewritten with serial %s", serialString(c.Leaf.SerialNumber), serialString(b.Cert.SerialNumber))
	}
	if err := kp.LastError(); err != nil {
		t.Errorf("LastError = %v", err)
	}
}

// TestKeyPairForgetsAnErrorOnceTheFilesHoldThePairInUse: LastError (a
// node's health) reports a bad pair only while the files hold one; once
// the pair in use is put back, nothing is wrong any more.
func TestKeyPairForgetsAnErrorOnceTheFilesHoldThePairInUse(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, _ := loadCopy(t, a)
	good, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-2"}).CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if kp.Certificate(); kp.LastError() == nil {
		t.Fatal("no error with another node's certificate in the file")
	}
	if err := os.WriteFile(certFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _ := kp.Certificate(); !c.Leaf.Equal(a.Cert) || kp.LastError() != nil {
		t.Errorf("with the pair in use back: serving %s, LastError = %v", c.Leaf.Subject, kp.LastError())
	}
}
