package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pkiRun runs a command that must succeed and returns its stdout.
func pkiRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, "", args...)
	if code != 0 {
		t.Fatalf("laborlink %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestPKIJoinFlow walks a province through joining, as docs/pki.md tells
// operators to: the root and the province work in separate directories and
// only ca.csr, ca.pem and root.pem travel between them.
func TestPKIJoinFlow(t *testing.T) {
	dir := t.TempDir()
	root, p51, courier := filepath.Join(dir, "root"), filepath.Join(dir, "p51"), filepath.Join(dir, "usb")

	pkiRun(t, "pki", "init-root", "--dir", root, "--federation-domain", "laborlink.example")
	out := pkiRun(t, "pki", "csr", "--province", "51", "--dir", p51)
	if !strings.Contains(out, "ca.csr") {
		t.Errorf("csr output: %s", out)
	}
	copyFile(t, filepath.Join(p51, "ca.csr"), filepath.Join(courier, "ca.csr"))
	out = pkiRun(t, "pki", "sign-province", "--root", root, "--csr", filepath.Join(courier, "ca.csr"), "--province", "51")
	if !strings.Contains(out, "province 51 (Sichuan)") || !strings.Contains(out, "spiffe://p51.laborlink.example/") {
		t.Errorf("sign-province output: %s", out)
	}
	copyFile(t, filepath.Join(courier, "ca.pem"), filepath.Join(p51, "ca.pem"))
	copyFile(t, filepath.Join(courier, "root.pem"), filepath.Join(p51, "root.pem"))

	out = pkiRun(t, "pki", "issue", "--ca", p51, "--kind", "node", "--name", "gw-1", "--ip", "127.0.0.1", "--dns", "gw-1.p51.laborlink.example")
	if !strings.Contains(out, "issued spiffe://p51.laborlink.example/node/gw-1") {
		t.Errorf("issue output: %s", out)
	}
	out = pkiRun(t, "pki", "issue", "--ca", p51, "--kind", "admin", "--name", "zhang")
	serial := regexp.MustCompile(`serial\s+([0-9a-f]+)`).FindStringSubmatch(out)
	if serial == nil {
		t.Fatalf("no serial in issue output: %s", out)
	}
	for _, f := range []string{"node-gw-1-key.pem", "admin-zhang-key.pem", "ca-key.pem"} {
		if info, err := os.Stat(filepath.Join(p51, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", f, info, err)
		}
	}

	// Flags after the serial, as the issue writes the command.
	out = pkiRun(t, "pki", "revoke", "--ca", p51, serial[1], "--reason", "affiliationChanged")
	if !strings.Contains(out, "revoked serial "+serial[1]) {
		t.Errorf("revoke output: %s", out)
	}
	// A reason is matched in any case, and said as the CRL spells it.
	out = pkiRun(t, "pki", "revoke", "--ca", p51, filepath.Join(p51, "node-gw-1.pem"), "--reason", "SUPERSEDED")
	if !strings.Contains(out, "(superseded)") {
		t.Errorf("revoke output: %s; want the reason as the CRL spells it", out)
	}
	pkiRun(t, "pki", "crl", "--ca", p51, "--days", "3")
	if _, err := os.Stat(filepath.Join(p51, "crl.pem")); err != nil {
		t.Error(err)
	}

	out = pkiRun(t, "pki", "status", "--dir", p51)
	for _, want := range []string{"province CA", "spiffe://p51.laborlink.example/node/gw-1", "admin-zhang.pem", "revoked", "root CA"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not mention %q:\n%s", want, out)
		}
	}
	out = pkiRun(t, "pki", "status", "--dir", root)
	if !strings.Contains(out, "federation laborlink.example") {
		t.Errorf("root status:\n%s", out)
	}
}

// TestPKIRefusals checks exit codes and messages of bad invocations, and
// that a refused command writes nothing.
func TestPKIRefusals(t *testing.T) {
	dir := t.TempDir()
	root, p51, p44 := filepath.Join(dir, "root"), filepath.Join(dir, "p51"), filepath.Join(dir, "p44")
	pkiRun(t, "pki", "init-root", "--dir", root, "--federation-domain", "laborlink.example")
	pkiRun(t, "pki", "csr", "--province", "51", "--dir", p51)
	pkiRun(t, "pki", "csr", "--province", "44", "--dir", p44)
	pkiRun(t, "pki", "sign-province", "--root", root, "--csr", filepath.Join(p51, "ca.csr"), "--province", "51")
	pkiRun(t, "pki", "issue", "--ca", p51, "--kind", "node", "--name", "gw-1")
	junk := filepath.Join(dir, "junk.csr")
	os.WriteFile(junk, []byte("not a request"), 0o644)

	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no subcommand", []string{"pki"}, 2, "a subcommand is required"},
		{"unknown subcommand", []string{"pki", "frob"}, 2, `unknown pki subcommand "frob"`},
		{"init-root without domain", []string{"pki", "init-root", "--dir", filepath.Join(dir, "r2")}, 2, "--federation-domain is required"},
		{"init-root over a root", []string{"pki", "init-root", "--dir", root, "--federation-domain", "laborlink.example"}, 1, "refusing to overwrite"},
		{"csr bad province", []string{"pki", "csr", "--province", "99", "--dir", filepath.Join(dir, "p99")}, 1, "unknown province code"},
		{"sign malformed CSR", []string{"pki", "sign-province", "--root", root, "--csr", junk, "--province", "51"}, 1, "malformed CSR"},
		{"sign CSR for another province", []string{"pki", "sign-province", "--root", root, "--csr", filepath.Join(p44, "ca.csr"), "--province", "51"}, 1, "is for province 44 (Guangdong), not 51"},
		{"sign bad CIDR", []string{"pki", "sign-province", "--root", root, "--csr", filepath.Join(p44, "ca.csr"), "--province", "44", "--permit-ip", "10.0.0.1"}, 2, "want a CIDR"},
		{"sign without --province", []string{"pki", "sign-province", "--root", root, "--csr", filepath.Join(p44, "ca.csr")}, 2, "--province"},
		{"issue unknown kind", []string{"pki", "issue", "--ca", p51, "--kind", "king", "--name", "x"}, 2, `unknown kind "king"`},
		{"issue other province", []string{"pki", "issue", "--ca", p51, "--kind", "node", "--name", "x", "--province", "44"}, 1, "cannot issue identities of province 44"},
		{"issue name outside the province", []string{"pki", "issue", "--ca", p51, "--kind", "node", "--name", "x", "--dns", "x.p44.laborlink.example"}, 1, "outside province 51's names"},
		// 213504 days in nanoseconds wraps int64 to 25 minutes.
		{"issue days beyond a duration", []string{"pki", "issue", "--ca", p51, "--kind", "node", "--name", "x", "--days", "213504"}, 2, "--days 213504 is too many"},
		{"crl days beyond a duration", []string{"pki", "crl", "--ca", p51, "--days", "106752"}, 2, "--days 106752 is too many"},
		{"issue bad IP", []string{"pki", "issue", "--ca", p51, "--kind", "node", "--name", "x", "--ip", "localhost"}, 2, "not an IP address"},
		{"issue with unsigned CA", []string{"pki", "issue", "--ca", p44, "--kind", "node", "--name", "x"}, 1, "waiting for the root operator"},
		{"issue with missing CA", []string{"pki", "issue", "--ca", filepath.Join(dir, "nowhere"), "--kind", "node", "--name", "x"}, 1, "no province CA"},
		{"revoke without serial", []string{"pki", "revoke", "--ca", p51}, 2, "one serial"},
		{"revoke bad serial", []string{"pki", "revoke", "--ca", p51, "zz"}, 2, "invalid serial"},
		{"revoke unknown serial", []string{"pki", "revoke", "--ca", p51, "abc"}, 1, "no record of issuing serial abc"},
		{"revoke bad reason", []string{"pki", "revoke", "--ca", p51, "abc", "--reason", "spite"}, 2, `--reason: unknown revocation reason "spite"`},
		// A file, not a serial such as "invalid serial" said it was.
		{"revoke missing file", []string{"pki", "revoke", "--ca", p51, filepath.Join(dir, "gone.pem")}, 1, "gone.pem: no such file"},
		// The root's CRL could not revoke it, so --force does not make it.
		{"revoke a leaf at the root", []string{"pki", "revoke", "--ca", root, filepath.Join(p51, "node-gw-1.pem"), "--force"}, 1, `issued by "LaborLink p51 CA", not by the root CA`},
		{"status of nothing", []string{"pki", "status", "--dir", filepath.Join(dir, "nowhere")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listFiles(t, dir)
			code, _, errOut := run(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.inStderr)
			}
			if after := listFiles(t, dir); after != before {
				t.Errorf("refused command changed files:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestPKIHelp(t *testing.T) {
	code, out, _ := run(t, "", "help", "pki")
	if code != 0 || !strings.Contains(out, "sign-province") || !strings.Contains(out, "docs/pki.md") {
		t.Errorf("help pki: exit %d\n%s", code, out)
	}
	code, _, errOut := run(t, "", "pki", "issue", "-h")
	if code != 0 || !strings.Contains(errOut, "--kind") && !strings.Contains(errOut, "-kind") {
		t.Errorf("pki issue -h: exit %d\n%s", code, errOut)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listFiles fingerprints every file under dir by name, size and content.
func listFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		b.WriteString(path + ":" + string(data) + "\n")
		return nil
	})
	return b.String()
}
