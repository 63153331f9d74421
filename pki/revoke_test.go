package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRevokeAndCRL(t *testing.T) {
	f := newFederation(t, "51", "44")
	dir := f.ProvinceDir("51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	b := issue(t, f, "51", IssueRequest{Kind: KindSystem, Name: "hr"})
	if _, err := Revoke(dir, a.Cert.SerialNumber, RevokeOptions{Reason: "KEYCOMPROMISE"}); err != nil {
		t.Fatal(err)
	}
	crlFile, err := Revoke(dir, b.Cert.SerialNumber, RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(crlFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	list, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := list.CheckSignatureFrom(f.CAs["51"].Cert); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if len(list.RevokedCertificateEntries) != 2 {
		t.Fatalf("CRL has %d entries", len(list.RevokedCertificateEntries))
	}
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(a.Cert.SerialNumber) == 0 && e.ReasonCode != 1 {
			t.Errorf("keyCompromise entry has reason %d", e.ReasonCode)
		}
	}

	l := NewRevocationList()
	if err := l.AddCRL(data, f.CAs["44"].Cert); err == nil {
		t.Error("CRL accepted with the wrong issuer")
	}
	if err := l.AddCRL(data, f.CAs["51"].Cert); err != nil || !l.Revoked(a.Cert) || !l.Revoked(b.Cert) || l.Len() != 2 {
		t.Errorf("AddCRL: %v, len %d", err, l.Len())
	}
	if l.Revoked(&x509.Certificate{SerialNumber: big.NewInt(42)}) {
		t.Error("unrevoked serial reported revoked")
	}
	if !(RevokedFunc(func(c *x509.Certificate) bool { return c.SerialNumber.Int64() == 42 })).Revoked(&x509.Certificate{SerialNumber: big.NewInt(42)}) {
		t.Error("RevokedFunc")
	}
}

func TestRevokeRefusals(t *testing.T) {
	f := newFederation(t, "51")
	dir := f.ProvinceDir("51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	if _, err := Revoke(dir, a.Cert.SerialNumber, RevokeOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		serial  *big.Int
		opts    RevokeOptions
		wantErr string
	}{
		{"twice", dir, a.Cert.SerialNumber, RevokeOptions{}, "already revoked"},
		{"unknown serial", dir, big.NewInt(0xabc), RevokeOptions{}, "no record of issuing serial abc"},
		{"bad reason", dir, a.Cert.SerialNumber, RevokeOptions{Reason: "because"}, "unknown revocation reason"},
		{"hold is not offered", dir, a.Cert.SerialNumber, RevokeOptions{Reason: "certificateHold"}, "unknown revocation reason"},
		{"no CA", t.TempDir(), a.Cert.SerialNumber, RevokeOptions{}, "no province CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, tt.dir)
			_, err := Revoke(tt.dir, tt.serial, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Revoke = %v, want error containing %q", err, tt.wantErr)
			}
			sameFiles(t, before, snapshot(t, tt.dir))
		})
	}
	if _, err := Revoke(dir, big.NewInt(0xabc), RevokeOptions{Force: true}); err != nil {
		t.Errorf("forced revoke of an unknown serial: %v", err)
	}
}

// TestRootRevokesProvinceCA: the root directory revokes a province CA and
// a Verifier fed with the root's CRL refuses every leaf under it.
func TestRootRevokesProvinceCA(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	crlFile, err := Revoke(f.Root.Dir, f.CAs["51"].Cert.SerialNumber, RevokeOptions{Reason: "cACompromise"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(crlFile)
	l := NewRevocationList()
	if err := l.AddCRL(data, f.Root.Cert); err != nil {
		t.Fatal(err)
	}
	_, err = (&Verifier{Roots: f.Roots(), Revocation: l}).Verify([]*x509.Certificate{leaf.Cert, f.CAs["51"].Cert}, x509.ExtKeyUsageClientAuth)
	if err == nil || !strings.Contains(err.Error(), "certificate revoked") || !strings.Contains(err.Error(), "LaborLink p51 CA") {
		t.Errorf("Verify under a revoked CA = %v", err)
	}
}

// TestRevokeCertNeedsItsIssuer: a certificate is revoked by the CA that
// issued it. Another CA's CRL would list its serial under the wrong name
// and revoke nothing, so that is refused, Force or not, and writes
// nothing; the CA that issued it revokes it.
func TestRevokeCertNeedsItsIssuer(t *testing.T) {
	f := newFederation(t, "51", "44")
	leaf44 := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"})
	for _, c := range []struct {
		name, dir string
		cert      *x509.Certificate
	}{
		{"another province's leaf", f.ProvinceDir("51"), leaf44.Cert},
		{"a leaf at the root", f.Root.Dir, leaf44.Cert},
		{"a province CA at its own directory", f.ProvinceDir("44"), f.CAs["44"].Cert},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, f.Dir)
			_, err := RevokeCert(c.dir, c.cert, RevokeOptions{Force: true})
			if err == nil || !strings.Contains(err.Error(), "revoke it with the CA that issued it") {
				t.Fatalf("RevokeCert = %v, want refused", err)
			}
			sameFiles(t, before, snapshot(t, f.Dir))
		})
	}
	for dir, cert := range map[string]*x509.Certificate{f.ProvinceDir("44"): leaf44.Cert, f.Root.Dir: f.CAs["44"].Cert} {
		crlFile, err := RevokeCert(dir, cert, RevokeOptions{})
		if err != nil {
			t.Fatalf("RevokeCert by its issuer: %v", err)
		}
		data, _ := os.ReadFile(crlFile)
		issuer := f.CAs["44"].Cert
		if dir == f.Root.Dir {
			issuer = f.Root.Cert
		}
		l := NewRevocationList()
		if err := l.AddCRL(data, issuer); err != nil || !l.Revoked(cert) {
			t.Errorf("CRL of %s: %v, revoked %v; want the certificate revoked", dir, err, l.Revoked(cert))
		}
	}
}

func TestParseSerial(t *testing.T) {
	for in, want := range map[string]int64{"abc": 0xabc, "0xABC": 0xabc, "0a:bc": 0xabc, " 1f ": 0x1f} {
		if got, err := ParseSerial(in); err != nil || got.Int64() != want {
			t.Errorf("ParseSerial(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xyz", "0", "-1", "0x"} {
		if _, err := ParseSerial(in); err == nil {
			t.Errorf("ParseSerial(%q) succeeded", in)
		}
	}
}

// TestRememberedChainsStillCheckTimeAndRevocation: a chain verified once is
// remembered, but a later revocation or the passing of its certificates'
// validity still refuses it.
func TestRememberedChainsStillCheckTimeAndRevocation(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	chain := []*x509.Certificate{leaf.Cert, f.CAs["51"].Cert}
	revoked := false
	now := time.Now()
	v := &Verifier{Roots: f.Roots(), Now: func() time.Time { return now },
		Revocation: RevokedFunc(func(c *x509.Certificate) bool { return revoked && c.SerialNumber.Cmp(leaf.Cert.SerialNumber) == 0 })}
	for range 2 {
		if id, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil || id.Name != "gw-1" {
			t.Fatalf("Verify = %v, %v", id, err)
		}
	}
	revoked = true
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrRevoked) {
		t.Errorf("after revocation: %v, want ErrRevoked", err)
	}
	revoked = false
	now = f.CAs["51"].Cert.NotAfter.Add(time.Hour)
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("verified after the CA expired")
	}
	// Another usage is verified on its own: a node certificate for client
	// auth says nothing about a usage it may lack.
	now = time.Now()
	if _, err := v.Verify(chain, x509.ExtKeyUsageCodeSigning); err == nil {
		t.Error("verified for a usage the certificate does not have")
	}
}

// TestVerifierRefusesNonMembers: a chain that builds to the root is still
// refused, by name, once its province is not a member; the remembered chain
// does not let it through.
func TestVerifierRefusesNonMembers(t *testing.T) {
	f := newFederation(t, "51", "33")
	leaf := issue(t, f, "33", IssueRequest{Kind: KindNode, Name: "gw-1"})
	chain := []*x509.Certificate{leaf.Cert, f.CAs["33"].Cert}
	members := map[string]bool{"51": true, "33": true}
	v := &Verifier{Roots: f.Roots(), Member: func(p string) bool { return members[p] }}
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
		t.Fatalf("a member's node: %v", err)
	}
	delete(members, "33")
	_, err := v.Verify(chain, x509.ExtKeyUsageClientAuth)
	if !errors.Is(err, ErrNotMember) || !strings.Contains(err.Error(), "province 33 is not a member of the federation") {
		t.Errorf("after removal: %v, want ErrNotMember naming 33", err)
	}
}

// TestRememberedChainsFollowARootRollover: with two roots of one key in the
// pool (a renewal), a chain remembered through the one that then expires
// verifies through the other, as a fresh Verifier would.
func TestRememberedChainsFollowARootRollover(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	chain := []*x509.Certificate{leaf.Cert, f.CAs["51"].Cert}
	now := time.Now()
	tmpl := *f.Root.Cert
	tmpl.NotAfter = now.Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, f.Root.Cert.PublicKey, f.Root.key)
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(expiring)
	pool.AddCert(f.Root.Cert)
	clock := now
	v := &Verifier{Roots: pool, Now: func() time.Time { return clock }}
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(2 * time.Hour)
	if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("after one root expired: %v; the other root still verifies it", err)
	}
}

// TestRevocationListAnswersNow: a list asked about a certificate before
// its serial is added refuses it at the next call, as a node's list of
// CRL files does when a changed file is read again.
func TestRevocationListAnswersNow(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	b := issue(t, f, "51", IssueRequest{Kind: KindSystem, Name: "hr"})
	l := NewRevocationList()
	for range 2 {
		if l.Revoked(a.Cert) || l.Revoked(b.Cert) {
			t.Fatal("revoked before any serial was added")
		}
	}
	l.Add(a.Cert)
	if !l.Revoked(a.Cert) || l.Revoked(b.Cert) {
		t.Errorf("after adding gw-1's serial: gw-1 revoked %v, hr revoked %v; want only gw-1", l.Revoked(a.Cert), l.Revoked(b.Cert))
	}
}

// TestACRLRevokesOnlyWhatItsIssuerIssued: p51's CA lists the serial of a
// p44 certificate in its CRL (forced: it never issued it); the list does
// not refuse the p44 certificate, nor does a p51 certificate unlisted. The
// same serial in p44's CRL revokes it.
func TestACRLRevokesOnlyWhatItsIssuerIssued(t *testing.T) {
	f := newFederation(t, "51", "44")
	p44 := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"})
	p51 := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	crl := func(province string) []byte {
		t.Helper()
		file, err := Revoke(f.ProvinceDir(province), p44.Cert.SerialNumber, RevokeOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	l := NewRevocationList()
	if err := l.AddCRL(crl("51"), f.CAs["51"].Cert); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Roots: f.Roots(), Revocation: l}
	if l.Revoked(p44.Cert) || l.Revoked(p51.Cert) {
		t.Errorf("after p51's CRL: p44 revoked %v, p51 revoked %v; want neither: p51's CA did not issue p44's certificate", l.Revoked(p44.Cert), l.Revoked(p51.Cert))
	}
	if _, err := v.Verify([]*x509.Certificate{p44.Cert, f.CAs["44"].Cert}, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("p44's certificate after p51's CRL: %v", err)
	}
	if err := l.AddCRL(crl("44"), f.CAs["44"].Cert); err != nil {
		t.Fatal(err)
	}
	if !l.Revoked(p44.Cert) {
		t.Error("p44's CRL does not revoke p44's certificate")
	}
	if _, err := v.Verify([]*x509.Certificate{p44.Cert, f.CAs["44"].Cert}, x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrRevoked) {
		t.Errorf("p44's certificate after p44's CRL: err = %v, want ErrRevoked", err)
	}
}

// TestAddCRLFromFindsItsSigner: AddCRLFrom takes a CRL from whichever of
// the CAs it is given signed it; one none of them signed is ErrCRLSigner,
// naming them, and one that is no CRL is not.
func TestAddCRLFromFindsItsSigner(t *testing.T) {
	f := newFederation(t, "51", "44")
	p44 := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"})
	file, err := Revoke(f.ProvinceDir("44"), p44.Cert.SerialNumber, RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	l := NewRevocationList()
	if err := l.AddCRLFrom(crl, []*x509.Certificate{f.CAs["51"].Cert}); !errors.Is(err, ErrCRLSigner) || !strings.Contains(err.Error(), f.CAs["51"].Cert.Subject.CommonName) || l.Revoked(p44.Cert) {
		t.Errorf("44's CRL from 51's CA alone: %v, revoked %v; want ErrCRLSigner naming the CA, nothing added", err, l.Revoked(p44.Cert))
	}
	if err := l.AddCRLFrom([]byte("not a CRL"), []*x509.Certificate{f.CAs["44"].Cert}); err == nil || errors.Is(err, ErrCRLSigner) {
		t.Errorf("no CRL: %v; want an error that is not ErrCRLSigner", err)
	}
	if err := l.AddCRLFrom(crl, []*x509.Certificate{f.CAs["51"].Cert, f.CAs["44"].Cert}); err != nil || !l.Revoked(p44.Cert) {
		t.Errorf("44's CRL from 51's and 44's CAs: %v, revoked %v; want it added", err, l.Revoked(p44.Cert))
	}
}

// TestACRLOfACARemadeUnderItsNameRevokesWhatTheOldKeySigned: a province
// CA remade with a new key under the same name (pki csr --force, then
// sign-province) keeps its records, and its CRL revokes a certificate the
// old key signed: serials are scoped by issuer name, not by key.
func TestACRLOfACARemadeUnderItsNameRevokesWhatTheOldKeySigned(t *testing.T) {
	f := newFederation(t, "51")
	dir := f.ProvinceDir("51")
	old := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	csr, err := NewProvinceCSR(dir, "51", CSROptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	remade, err := f.Root.SignProvince(csr, SignProvinceOptions{Province: "51", OutDir: dir, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(remade.Cert.SubjectKeyId) == string(f.CAs["51"].Cert.SubjectKeyId) || string(remade.Cert.RawSubject) != string(old.Cert.RawIssuer) {
		t.Fatal("the remade CA should have a new key under the old name")
	}
	file, err := Revoke(dir, old.Cert.SerialNumber, RevokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	l := NewRevocationList()
	if err := l.AddCRL(data, remade.Cert); err != nil {
		t.Fatal(err)
	}
	if !l.Revoked(old.Cert) {
		t.Error("the remade CA's CRL does not revoke a certificate its old key signed")
	}
}
