package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
	"github.com/laborlink/laborlink/pki"
)

// TestTheCLIRefusesANodeTheCRLRevokes: with --crl, a command refuses the
// node it reaches when the CRL revokes that node's certificate: a thief of
// a revoked node key who stands in for the node would otherwise receive
// what a system submits. Without it the command goes on trusting whatever
// the root vouches for; a CRL no CA of the caller's chain or root signed is
// refused naming the file.
func TestTheCLIRefusesANodeTheCRLRevokes(t *testing.T) {
	f := devfedtest.Seeded(t, 1)
	auditor := f.Certs["51"].Auditor
	conn := []string{"audit", "query", "--node", f.URL("51"), "--cert", auditor.CertFile, "--key", auditor.KeyFile, "--ca", f.Root}
	nodeCert := filepath.Join(f.ProvinceDir("51"), "tls", "node-"+devfed.NodeName+".pem")
	crl := filepath.Join(f.CADir("51"), pki.CRLFile)

	if code, _, errOut := run(t, "", conn...); code != 0 {
		t.Fatalf("before the revocation: exit %d, %s", code, errOut)
	}
	if code, _, errOut := run(t, "", "pki", "revoke", "--ca", f.CADir("51"), "--reason", "keyCompromise", nodeCert); code != 0 {
		t.Fatalf("revoke the node's certificate: exit %d, %s", code, errOut)
	}
	code, _, errOut := run(t, "", append(conn, "--crl", crl)...)
	if code != 1 || !strings.Contains(errOut, "revoked") {
		t.Errorf("with --crl revoking the node: exit %d, stderr %q; want 1, revoked", code, errOut)
	}
	// The other province's CRL is signed by a CA this caller cannot check.
	other := filepath.Join(t.TempDir(), "crl.pem")
	if _, err := pki.WriteCRL(f.CADir("44"), 0); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(f.CADir("44"), pki.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "", append(conn, "--crl", other)...)
	if code != 1 || !strings.Contains(errOut, "--crl "+other) || !strings.Contains(errOut, "not signed by") {
		t.Errorf("--crl of another province: exit %d, stderr %q; want 1 naming the file", code, errOut)
	}
	code, _, errOut = run(t, "", append(conn, "--crl", auditor.CertFile)...)
	if code != 1 || !strings.Contains(errOut, "--crl "+auditor.CertFile) {
		t.Errorf("--crl of a certificate: exit %d, stderr %q; want 1 naming the file", code, errOut)
	}
}
