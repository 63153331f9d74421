package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProvinceCAConstraints(t *testing.T) {
	f := newFederation(t, "51")
	ca := f.CAs["51"]
	c := ca.Cert
	if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("province CA: IsCA %v MaxPathLen %d zero %v; want a CA that cannot sign CAs", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	host := "p51." + testDomain
	if !slices.Equal(c.PermittedURIDomains, []string{host}) || !slices.Equal(c.PermittedDNSDomains, []string{host}) {
		t.Errorf("permitted URI %v DNS %v, want %s", c.PermittedURIDomains, c.PermittedDNSDomains, host)
	}
	if !c.PermittedDNSDomainsCritical {
		t.Error("name constraints are not critical")
	}
	if len(c.PermittedIPRanges) != 0 || len(c.DNSNames)+len(c.URIs)+len(c.IPAddresses) != 0 {
		t.Errorf("unexpected IP constraints or SANs on the CA: %v %v %v %v", c.PermittedIPRanges, c.DNSNames, c.URIs, c.IPAddresses)
	}
	if ca.Province != "51" || ca.Domain != testDomain {
		t.Errorf("OpenCA province %q domain %q", ca.Province, ca.Domain)
	}
	if f.Root.Domain != testDomain || f.Root.Cert.MaxPathLen != 1 {
		t.Errorf("root domain %q pathlen %d", f.Root.Domain, f.Root.Cert.MaxPathLen)
	}
}

func TestPermittedIPRanges(t *testing.T) {
	f := newFederation(t)
	dir := t.TempDir()
	csrFile, err := NewProvinceCSR(dir, "44", CSROptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, v4, _ := net.ParseCIDR("10.44.0.0/16")
	_, v6, _ := net.ParseCIDR("fd44::/16")
	if _, err := f.Root.SignProvince(csrFile, SignProvinceOptions{Province: "44", PermittedIPs: []*net.IPNet{v4, v6}}); err != nil {
		t.Fatal(err)
	}
	ca, err := OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Cert.PermittedIPRanges; len(got) != 2 || got[0].String() != "10.44.0.0/16" || got[1].String() != "fd44::/16" {
		t.Fatalf("PermittedIPRanges = %v", got)
	}
	if _, err := ca.Issue(IssueRequest{Kind: KindNode, Name: "gw-1", IPAddresses: []net.IP{net.ParseIP("10.44.1.2")}}); err != nil {
		t.Errorf("IP inside the range: %v", err)
	}
	_, err = ca.Issue(IssueRequest{Kind: KindNode, Name: "gw-2", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	if err == nil || !strings.Contains(err.Error(), "outside the ranges") {
		t.Errorf("IP outside the range: %v", err)
	}
}

func TestIssue(t *testing.T) {
	f := newFederation(t, "51")
	tests := []struct {
		req     IssueRequest
		wantEKU []x509.ExtKeyUsage
	}{
		{IssueRequest{Kind: KindNode, Name: "gw-1", DNSNames: []string{"gw-1.p51.laborlink.example"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{IssueRequest{Kind: KindAdmin, Name: "zhang-wei"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{IssueRequest{Kind: KindSystem, Name: "hr"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{IssueRequest{Kind: KindAuditor, Name: "audit"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{IssueRequest{Kind: KindOperator, Name: "ops", Province: "51"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	for _, tt := range tests {
		t.Run(string(tt.req.Kind), func(t *testing.T) {
			leaf := issue(t, f, "51", tt.req)
			want := Identity{Domain: testDomain, Province: "51", Kind: tt.req.Kind, Name: tt.req.Name}
			if leaf.Identity != want {
				t.Errorf("identity %v, want %v", leaf.Identity, want)
			}
			if !slices.Equal(leaf.Cert.ExtKeyUsage, tt.wantEKU) {
				t.Errorf("EKU %v, want %v", leaf.Cert.ExtKeyUsage, tt.wantEKU)
			}
			if leaf.Cert.IsCA {
				t.Error("leaf is a CA")
			}
			chain, err := ReadCertificates(leaf.CertFile)
			if err != nil || len(chain) != 2 || !chain[1].Equal(f.CAs["51"].Cert) {
				t.Fatalf("certificate file should hold leaf then CA: %v, %d certs", err, len(chain))
			}
			info, err := os.Stat(leaf.KeyFile)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, %v; want 0600", info.Mode().Perm(), err)
			}
			if got, err := IdentityFromCert(leaf.Cert); err != nil || got != want {
				t.Errorf("IdentityFromCert = %v, %v", got, err)
			}
		})
	}
	st, err := readState(f.ProvinceDir("51"))
	if err != nil || len(st.Issued) != len(tests) {
		t.Errorf("state records %d issued, want %d (%v)", len(st.Issued), len(tests), err)
	}
}

func TestKeysAreOwnerOnly(t *testing.T) {
	f := newFederation(t, "51")
	for _, p := range []string{
		filepath.Join(f.Root.Dir, RootKeyFile),
		filepath.Join(f.ProvinceDir("51"), CAKeyFile),
	} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, info.Mode().Perm(), err)
		}
	}
}

// TestIssueRefusals checks that every bad request is refused with a clear
// message and leaves the CA directory exactly as it was.
func TestIssueRefusals(t *testing.T) {
	f := newFederation(t, "51")
	issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "exists"})
	ca := f.CAs["51"]
	tests := []struct {
		name    string
		req     IssueRequest
		wantErr string
	}{
		{"unknown kind", IssueRequest{Kind: "root", Name: "x"}, `unknown kind "root"`},
		{"empty kind", IssueRequest{Name: "x"}, `unknown kind ""`},
		{"bad name", IssueRequest{Kind: KindNode, Name: "GW/1"}, "invalid name"},
		{"empty name", IssueRequest{Kind: KindNode}, "invalid name"},
		{"other province", IssueRequest{Kind: KindNode, Name: "gw-1", Province: "44"}, "cannot issue identities of province 44"},
		{"DNS of another province", IssueRequest{Kind: KindNode, Name: "gw-1", DNSNames: []string{"gw-1.p44.laborlink.example"}}, "outside province 51's names"},
		{"DNS outside the federation", IssueRequest{Kind: KindNode, Name: "gw-1", DNSNames: []string{"localhost"}}, "outside province 51's names"},
		{"look-alike DNS", IssueRequest{Kind: KindNode, Name: "gw-1", DNSNames: []string{"evilp51.laborlink.example"}}, "outside province 51's names"},
		{"wildcard DNS", IssueRequest{Kind: KindNode, Name: "gw-1", DNSNames: []string{"*.p51.laborlink.example"}}, "invalid DNS name"},
		{"DNS on a client cert", IssueRequest{Kind: KindAdmin, Name: "a", DNSNames: []string{"a.p51.laborlink.example"}}, "only node certificates"},
		{"IP on a client cert", IssueRequest{Kind: KindSystem, Name: "s", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}, "only node certificates"},
		{"existing files", IssueRequest{Kind: KindNode, Name: "exists"}, "refusing to overwrite"},
		{"empty window", IssueRequest{Kind: KindNode, Name: "w", NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)}, "validity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, ca.Dir)
			_, err := ca.Issue(tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Issue error = %v, want one containing %q", err, tt.wantErr)
			}
			sameFiles(t, before, snapshot(t, ca.Dir))
		})
	}
}

func TestIssueForceRotates(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 || keyMatchesPub(a.Cert.PublicKey, b.Cert) {
		t.Fatal("forced reissue kept the certificate")
	}
	chain, err := ReadCertificates(b.CertFile)
	if err != nil || !chain[0].Equal(b.Cert) {
		t.Errorf("file does not hold the new certificate: %v", err)
	}
}

func TestCARefusals(t *testing.T) {
	f := newFederation(t, "51")
	now := time.Now()

	t.Run("expired CA", func(t *testing.T) {
		dir := t.TempDir()
		csrFile, err := NewProvinceCSR(dir, "52", CSROptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Root.SignProvince(csrFile, SignProvinceOptions{NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ca, err := OpenCA(dir)
		if err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		_, err = ca.Issue(IssueRequest{Kind: KindNode, Name: "gw-1"})
		if err == nil || !strings.Contains(err.Error(), "province CA p52 expired at") {
			t.Fatalf("Issue with expired CA: %v", err)
		}
		sameFiles(t, before, snapshot(t, dir))
	})

	t.Run("missing CA", func(t *testing.T) {
		_, err := OpenCA(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "no province CA") {
			t.Fatalf("OpenCA(empty) = %v", err)
		}
	})

	t.Run("CSR not signed yet", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := NewProvinceCSR(dir, "53", CSROptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := OpenCA(dir)
		if err == nil || !strings.Contains(err.Error(), "waiting for the root operator") {
			t.Fatalf("OpenCA(pending) = %v", err)
		}
	})

	t.Run("missing root copy", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{CACertFile, CAKeyFile} {
			data, err := os.ReadFile(filepath.Join(f.ProvinceDir("51"), name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, name), data, 0o600)
		}
		_, err := OpenCA(dir)
		if err == nil || !strings.Contains(err.Error(), "root.pem not found") {
			t.Fatalf("OpenCA without root.pem = %v", err)
		}
	})

	t.Run("key of another CA", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := NewProvinceCSR(dir, "51", CSROptions{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{CACertFile, RootCertFile} {
			data, _ := os.ReadFile(filepath.Join(f.ProvinceDir("51"), name))
			os.WriteFile(filepath.Join(dir, name), data, 0o644)
		}
		_, err := OpenCA(dir)
		if err == nil || !strings.Contains(err.Error(), "does not belong to") {
			t.Fatalf("OpenCA with a foreign key = %v", err)
		}
	})
}

// TestSignProvinceRefusals covers the root operator's bad inputs.
func TestSignProvinceRefusals(t *testing.T) {
	f := newFederation(t)
	dir := t.TempDir()
	p44, err := NewProvinceCSR(filepath.Join(dir, "p44"), "44", CSROptions{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csrPEM, _ := os.ReadFile(p44)
	tampered := strings.Replace(string(csrPEM), string(csrPEM[100:104]), "AAAA", 1)
	certPEM := string(encodeCerts(f.Root.Cert))
	tests := []struct {
		name     string
		file     string
		province string
		wantErr  string
	}{
		{"CSR for another province", p44, "51", "is for province 44 (Guangdong), not 51 (Sichuan)"},
		{"unknown expected province", p44, "99", "unknown province code"},
		{"not PEM", write("junk.csr", "hello"), "", "malformed CSR"},
		{"a certificate, not a CSR", write("cert.csr", certPEM), "", "no PEM CERTIFICATE REQUEST"},
		{"tampered CSR", write("tampered.csr", tampered), "", "malformed CSR"},
		{"trailing data", write("trailing.csr", string(csrPEM)+string(csrPEM)), "", "unexpected data after"},
		{"missing file", filepath.Join(dir, "nope.csr"), "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, rootBefore := snapshot(t, dir), snapshot(t, f.Root.Dir)
			_, err := f.Root.SignProvince(tt.file, SignProvinceOptions{Province: tt.province})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SignProvince error = %v, want one containing %q", err, tt.wantErr)
			}
			sameFiles(t, before, snapshot(t, dir))
			sameFiles(t, rootBefore, snapshot(t, f.Root.Dir))
		})
	}

	// ca.pem in the root directory would make revoke and crl take it for a
	// province CA's directory, and find no root there.
	inRoot := filepath.Join(f.Root.Dir, CACSRFile)
	if err := os.WriteFile(inRoot, csrPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, csr string
		out       string
	}{
		{"request in the root directory", inRoot, ""},
		{"--out the root directory", p44, f.Root.Dir + "/."},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, f.Root.Dir)
			if _, err := f.Root.SignProvince(c.csr, SignProvinceOptions{Province: "44", OutDir: c.out}); err == nil || !strings.Contains(err.Error(), "into the root directory") {
				t.Fatalf("SignProvince = %v, want refused", err)
			}
			sameFiles(t, before, snapshot(t, f.Root.Dir))
		})
	}
	if _, err := WriteCRL(f.Root.Dir, 0); err != nil {
		t.Errorf("the root's CRL after the refusals: %v", err)
	}
}

func TestInitRootRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitRoot(dir, RootOptions{Domain: "Bad_Domain"}); err == nil || !strings.Contains(err.Error(), "invalid federation domain") {
		t.Errorf("bad domain: %v", err)
	}
	if len(snapshot(t, dir)) != 0 {
		t.Error("a refused init-root wrote files")
	}
	if _, err := InitRoot(dir, RootOptions{Domain: testDomain}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if _, err := InitRoot(dir, RootOptions{Domain: testDomain}); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("second init-root: %v", err)
	}
	sameFiles(t, before, snapshot(t, dir))
	if _, err := InitRoot(dir, RootOptions{Domain: testDomain, Force: true}); err != nil {
		t.Errorf("init-root --force: %v", err)
	}
}

func TestProvinceCSRRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewProvinceCSR(dir, "99", CSROptions{}); err == nil || !strings.Contains(err.Error(), "unknown province code") {
		t.Errorf("bad province: %v", err)
	}
	if len(snapshot(t, dir)) != 0 {
		t.Error("a refused csr wrote files")
	}
	if _, err := NewProvinceCSR(dir, "51", CSROptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if _, err := NewProvinceCSR(dir, "51", CSROptions{}); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("second csr: %v", err)
	}
	sameFiles(t, before, snapshot(t, dir))
}

// TestCADirectoriesAreOwnerOnly: the directory init-root creates for the
// root CA, which holds its key and its records, is 0700.
func TestCADirectoriesAreOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	if _, err := InitRoot(dir, RootOptions{Domain: testDomain}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("%s is %o, want 700", dir, perm)
	}
}
