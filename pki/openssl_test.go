package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openssl runs the openssl binary, an implementation independent of Go's,
// and returns its combined output and whether it exited 0.
func openssl(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not installed: these tests check our chains with an independent implementation (.ci/run installs it; apt-get install openssl)")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	return string(out), err == nil
}

func TestOpenSSLVerifiesChain(t *testing.T) {
	f := newFederation(t, "51", "44")
	root := filepath.Join(f.Root.Dir, RootCertFile)
	for _, req := range []IssueRequest{
		{Kind: KindNode, Name: "gw-1", DNSNames: []string{"gw-1.p51.laborlink.example"}},
		{Kind: KindAdmin, Name: "zhang"},
	} {
		leaf := issue(t, f, "51", req)
		out, ok := openssl(t, "verify", "-x509_strict", "-CAfile", root, "-untrusted", filepath.Join(f.ProvinceDir("51"), CACertFile), leaf.CertFile)
		if !ok || !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s/%s: %s", req.Kind, req.Name, out)
		}
	}
}

// TestOpenSSLEnforcesNameConstraints: OpenSSL 3 enforces URI and DNS name
// constraints, so it independently refuses a p44 identity forged with the
// p51 CA's key.
func TestOpenSSLEnforcesNameConstraints(t *testing.T) {
	f := newFederation(t, "51")
	root := filepath.Join(f.Root.Dir, RootCertFile)
	ca := filepath.Join(f.ProvinceDir("51"), CACertFile)
	for name, leaf := range map[string]*Leaf{
		"URI": forge(t, f.CAs["51"], "spiffe://p44.laborlink.example/node/gw-1", nil),
		"DNS": forge(t, f.CAs["51"], "spiffe://p51.laborlink.example/node/gw-1", []string{"gw-1.p44.laborlink.example"}),
	} {
		t.Run(name, func(t *testing.T) {
			out, ok := openssl(t, "verify", "-CAfile", root, "-untrusted", ca, leaf.CertFile)
			if ok || !strings.Contains(out, "permitted subtree violation") {
				t.Errorf("openssl accepted or misreported a forged certificate: %s", out)
			}
		})
	}
}

func TestOpenSSLChecksCRL(t *testing.T) {
	f := newFederation(t, "51")
	dir := f.ProvinceDir("51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	crlFile, err := Revoke(dir, leaf.Cert.SerialNumber, RevokeOptions{Reason: "superseded"})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(f.Root.Dir, RootCertFile)
	ca := filepath.Join(dir, CACertFile)
	out, ok := openssl(t, "crl", "-in", crlFile, "-CAfile", ca, "-noout", "-text")
	if !ok || !strings.Contains(out, "Superseded") || !strings.Contains(strings.ToUpper(strings.ReplaceAll(out, ":", "")), strings.ToUpper(serialString(leaf.Cert.SerialNumber))) {
		t.Errorf("openssl crl: %s", out)
	}
	// The root's CRL (empty here) is needed too, since -crl_check_all
	// checks every CA in the chain.
	rootCRL, err := WriteCRL(f.Root.Dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, ok = openssl(t, "verify", "-crl_check_all", "-CAfile", root, "-untrusted", ca, "-CRLfile", crlFile, "-CRLfile", rootCRL, leaf.CertFile)
	if ok || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify accepted a revoked certificate: %s", out)
	}
	other := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-2"})
	out, ok = openssl(t, "verify", "-crl_check_all", "-CAfile", root, "-untrusted", ca, "-CRLfile", crlFile, "-CRLfile", rootCRL, other.CertFile)
	if !ok {
		t.Errorf("openssl verify refused a good certificate with CRLs: %s", out)
	}
	// A verifier whose clock is a minute behind the CA's machine still
	// takes a CRL published just now, as it takes the certificates, which
	// are backdated for that.
	behind := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	out, ok = openssl(t, "verify", "-crl_check_all", "-attime", behind, "-CAfile", root, "-untrusted", ca, "-CRLfile", crlFile, "-CRLfile", rootCRL, other.CertFile)
	if !ok {
		t.Errorf("openssl verify a minute behind refused a good certificate with fresh CRLs: %s", out)
	}
	if _, err := os.Stat(crlFile); err != nil {
		t.Error(err)
	}
}
