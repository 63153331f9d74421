package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
)

func TestHandshakeAcceptsFederationPeers(t *testing.T) {
	f := newFederation(t, "51", "44")
	v := &Verifier{Roots: f.Roots(), Domain: testDomain}
	srvLeaf := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	srv := tlsFor(t, srvLeaf, v)
	tests := []struct {
		name   string
		client *Leaf
		policy PeerPolicy
	}{
		{"node to node across provinces", issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"}), PeerPolicy{Kinds: []Kind{KindNode}}},
		{"system of the same province", issue(t, f, "44", IssueRequest{Kind: KindSystem, Name: "hr"}), PeerPolicy{Kinds: []Kind{KindSystem, KindAdmin}, Province: "44"}},
		{"any member", issue(t, f, "51", IssueRequest{Kind: KindAuditor, Name: "audit"}), PeerPolicy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := tlsFor(t, tt.client, v)
			s, c := handshake(t, serverConfig(t, srv, tt.policy), clientConfig(t, cli, PeerPolicy{Kinds: []Kind{KindNode}, Province: "44", Name: "gw-1"}))
			if s.err != nil || c.err != nil {
				t.Fatalf("server error %v, client error %v", s.err, c.err)
			}
			if s.peer != tt.client.Identity {
				t.Errorf("server sees %v, want %v", s.peer, tt.client.Identity)
			}
			if c.peer != srvLeaf.Identity {
				t.Errorf("client sees %v, want %v", c.peer, srvLeaf.Identity)
			}
		})
	}
}

func TestTLSConfigIsStrict(t *testing.T) {
	f := newFederation(t, "51")
	tl := tlsFor(t, issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"}), &Verifier{Roots: f.Roots()})
	s, c := serverConfig(t, tl, PeerPolicy{}), clientConfig(t, tl, PeerPolicy{})
	if s.MinVersion != tls.VersionTLS13 || c.MinVersion != tls.VersionTLS13 {
		t.Error("MinVersion is not TLS 1.3")
	}
	if s.ClientAuth != tls.RequireAnyClientCert || s.VerifyConnection == nil || c.VerifyConnection == nil {
		t.Error("peer certificates are not required and verified")
	}
	if _, err := (&TLS{}).ServerConfig(PeerPolicy{}); err == nil {
		t.Error("ServerConfig without a key pair succeeded")
	}
	if _, err := (&TLS{KeyPair: tl.KeyPair, Verifier: &Verifier{}}).ClientConfig(PeerPolicy{}); err == nil {
		t.Error("ClientConfig without roots succeeded")
	}
}

// TestHandshakeRefusals runs each refused certificate through a real
// handshake and checks the error says why.
func TestHandshakeRefusals(t *testing.T) {
	f := newFederation(t, "51", "44")
	other := newFederation(t, "51") // same domain, different root
	now := time.Now()
	day := 24 * time.Hour
	revocations := NewRevocationList()
	v := &Verifier{Roots: f.Roots(), Revocation: revocations}

	node44 := tlsFor(t, issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"}), v)
	revoked := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "revoked"})
	if _, err := Revoke(f.ProvinceDir("51"), revoked.Cert.SerialNumber, RevokeOptions{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	crlPEM, err := os.ReadFile(filepath.Join(f.ProvinceDir("51"), CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := revocations.AddCRL(crlPEM, f.CAs["51"].Cert); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		client     *Leaf
		server     *Leaf // nil: node44 serves
		policy     PeerPolicy
		want       error
		wantMsg    string
		clientSide bool // the client refuses the server
	}{
		{name: "revoked", client: revoked, want: ErrRevoked, wantMsg: "certificate revoked (serial " + serialString(revoked.Cert.SerialNumber)},
		{name: "expired", client: issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "old", NotBefore: now.Add(-10 * day), NotAfter: now.Add(-day)}),
			want: ErrExpired, wantMsg: "certificate expired at "},
		{name: "not yet valid", client: issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "early", NotBefore: now.Add(day), NotAfter: now.Add(10 * day)}),
			want: ErrNotYetValid, wantMsg: "certificate not yet valid until "},
		{name: "wrong root", client: issue(t, other, "51", IssueRequest{Kind: KindNode, Name: "gw-1"}),
			want: ErrUnknownAuthority, wantMsg: "certificate signed by unknown authority"},
		{name: "wrong kind", client: issue(t, f, "51", IssueRequest{Kind: KindAdmin, Name: "zhang"}), policy: PeerPolicy{Kinds: []Kind{KindNode}},
			want: ErrKindNotAllowed, wantMsg: "kind admin not allowed here"},
		{name: "wrong province", client: issue(t, f, "51", IssueRequest{Kind: KindSystem, Name: "hr"}), policy: PeerPolicy{Province: "44"},
			want: ErrWrongPeer, wantMsg: "belongs to province 51, expected province 44"},
		{name: "client certificate used to serve", client: issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "caller"}),
			server: issue(t, f, "44", IssueRequest{Kind: KindOperator, Name: "ops"}), clientSide: true,
			want: ErrWrongUsage, wantMsg: "not valid for server authentication"},
		{name: "expired server", client: issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "caller2"}),
			server: issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "old", NotBefore: now.Add(-10 * day), NotAfter: now.Add(-day)}), clientSide: true,
			want: ErrExpired, wantMsg: "certificate expired at "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := node44
			if tt.server != nil {
				srv = tlsFor(t, tt.server, v)
			}
			s, c := handshake(t, serverConfig(t, srv, tt.policy), clientConfig(t, tlsFor(t, tt.client, v), PeerPolicy{}))
			refuser, other := s, c
			if tt.clientSide {
				refuser, other = c, s
			}
			if !errors.Is(refuser.err, tt.want) || !strings.Contains(refuser.err.Error(), tt.wantMsg) {
				t.Fatalf("refusing side error = %v, want %v containing %q", refuser.err, tt.want, tt.wantMsg)
			}
			t.Logf("refused: %v; peer saw: %v", refuser.err, other.err)
			if other.err == nil {
				t.Error("the other side completed a connection the peer refused")
			}
		})
	}
}

// TestForgedIdentityFromAnotherProvince forges a p44 node certificate
// with the p51 CA's key, bypassing the issuing code entirely, and checks
// that the name constraints make it fail in a real handshake.
func TestForgedIdentityFromAnotherProvince(t *testing.T) {
	f := newFederation(t, "51", "44")
	v := &Verifier{Roots: f.Roots()}
	forged := forge(t, f.CAs["51"], "spiffe://p44.laborlink.example/node/gw-1", nil)
	srv := tlsFor(t, issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"}), v)

	s, c := handshake(t, serverConfig(t, srv, PeerPolicy{Kinds: []Kind{KindNode}}), clientConfig(t, tlsFor(t, forged, v), PeerPolicy{}))
	if !errors.Is(s.err, ErrNameConstraint) || !strings.Contains(s.err.Error(), "spiffe://p44.laborlink.example/node/gw-1") {
		t.Fatalf("server accepted or misreported a forged p44 identity: %v", s.err)
	}
	if c.err == nil {
		t.Error("client completed a connection the server refused")
	}

	// Go's verifier alone, without our extra checks, must also refuse it:
	// the constraint lives in the certificate, not in our code.
	roots, inter := f.Roots(), x509.NewCertPool()
	inter.AddCert(f.CAs["51"].Cert)
	_, err := forged.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
		t.Errorf("crypto/x509 Verify of the forged certificate = %v, want CANotAuthorizedForThisName", err)
	}

	// A forged DNS name of another province fails the same way.
	forgedDNS := forge(t, f.CAs["51"], "spiffe://p51.laborlink.example/node/gw-9", []string{"gw-1.p44.laborlink.example"})
	if _, err := v.Verify([]*x509.Certificate{forgedDNS.Cert, f.CAs["51"].Cert}, x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrNameConstraint) {
		t.Errorf("forged DNS name: %v, want ErrNameConstraint", err)
	}
}

// TestUnconstrainedIntermediateRefused: even if the root operator signed
// an intermediate without name constraints (not with our tools), its
// certificates do not verify as federation identities.
func TestUnconstrainedIntermediateRefused(t *testing.T) {
	f := newFederation(t, "51")
	key, err := csr.NewKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "rogue CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	priv, _ := helpers.ParsePrivateKeyPEM(pemKey(t, key))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.Root.Cert, priv.Public(), f.Root.key)
	if err != nil {
		t.Fatal(err)
	}
	rogue, _ := x509.ParseCertificate(der)
	leaf := forge(t, &CA{Cert: rogue, key: priv, Dir: t.TempDir()}, "spiffe://p44.laborlink.example/node/gw-1", nil)
	_, err = (&Verifier{Roots: f.Roots()}).Verify([]*x509.Certificate{leaf.Cert, rogue}, x509.ExtKeyUsageClientAuth)
	if !errors.Is(err, ErrNameConstraint) || !strings.Contains(err.Error(), "not issued by a CA constrained to province 44") {
		t.Fatalf("Verify = %v, want ErrNameConstraint", err)
	}
}

// TestRotationWithoutRestart replaces the files of both sides between two
// handshakes on the same configurations.
func TestRotationWithoutRestart(t *testing.T) {
	f := newFederation(t, "51", "44")
	v := &Verifier{Roots: f.Roots()}
	srvA := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1"})
	cliA := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	serverCfg := serverConfig(t, tlsFor(t, srvA, v), PeerPolicy{})
	clientCfg := clientConfig(t, tlsFor(t, cliA, v), PeerPolicy{})

	s, c := handshake(t, serverCfg, clientCfg)
	if s.err != nil || c.err != nil {
		t.Fatal(s.err, c.err)
	}
	if c.serial.Cmp(srvA.Cert.SerialNumber) != 0 || s.serial.Cmp(cliA.Cert.SerialNumber) != 0 {
		t.Fatal("first handshake did not use the first certificates")
	}

	srvB := issue(t, f, "44", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	cliB := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	s, c = handshake(t, serverCfg, clientCfg)
	if s.err != nil || c.err != nil {
		t.Fatal(s.err, c.err)
	}
	if c.serial.Cmp(srvB.Cert.SerialNumber) != 0 {
		t.Errorf("client saw server serial %s, want the rotated %s", serialString(c.serial), serialString(srvB.Cert.SerialNumber))
	}
	if s.serial.Cmp(cliB.Cert.SerialNumber) != 0 {
		t.Errorf("server saw client serial %s, want the rotated %s", serialString(s.serial), serialString(cliB.Cert.SerialNumber))
	}
}

// forge makes a leaf directly with crypto/x509 and the CA's key, bypassing
// every check of CA.Issue, and writes it where tlsFor can load it.
func forge(t *testing.T, ca *CA, uri string, dns []string) *Leaf {
	t.Helper()
	key, err := csr.NewKeyRequest().Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pemKey(t, key)
	priv, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "forged"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{u},
		DNSNames:    dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, priv.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	leaf := &Leaf{Cert: cert, CertFile: filepath.Join(dir, "forged.pem"), KeyFile: filepath.Join(dir, "forged-key.pem")}
	if err := os.WriteFile(leaf.CertFile, encodeCerts(cert, ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leaf.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return leaf
}

func pemKey(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
