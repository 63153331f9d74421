package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badInputCase is one refused invocation: its exit status and what stderr
// must name (the flag, the file or the argument at fault).
type badInputCase struct {
	name     string
	args     []string
	code     int
	inStderr string
}

// checkRefusals runs each case and checks its exit status and message, and
// that a refused command wrote nothing under dir.
func checkRefusals(t *testing.T, dir string, tests []badInputCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listFiles(t, dir)
			code, _, errOut := run(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Fatalf("laborlink %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, errOut, tt.code, tt.inStderr)
			}
			if after := listFiles(t, dir); after != before {
				t.Errorf("refused command changed files:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// writeFixture writes a file under dir and returns its path.
func writeFixture(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// connFlags are the connection flags of a command reaching node, naming a
// certificate, key and root under dir that need not exist: the refusals
// tested come before any is read.
func connFlags(dir, node string) []string {
	return []string{"--node", node, "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "k.pem"), "--ca", filepath.Join(dir, "root.pem")}
}

// TestCommandsRefuseStrayArguments: commands that take flags only refuse a
// positional argument instead of ignoring it and running (bench and dev
// would start a whole federation).
func TestCommandsRefuseStrayArguments(t *testing.T) {
	dir := t.TempDir()
	checkRefusals(t, dir, []badInputCase{
		{"node", []string{"node", "--config", filepath.Join(dir, "node.yaml"), "extra"}, 2, `unexpected argument "extra"`},
		{"bench", []string{"bench", "--records", "10", "extra"}, 2, `unexpected argument "extra"`},
		{"dev", []string{"dev", "--init-only", "--dir", filepath.Join(dir, "fed"), "extra"}, 2, `unexpected argument "extra"`},
	})
}

// TestConnectionFlagsRefused: the connection flags every networked command
// shares are checked before any file is read or any node dialled.
func TestConnectionFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	conn := func(node, timeout string) []string {
		return append(connFlags(dir, node), "--timeout", timeout)
	}
	good := "https://127.0.0.1:1"
	checkRefusals(t, dir, []badInputCase{
		{"status zero timeout", append([]string{"status"}, conn(good, "0s")...), 2, "--timeout 0s: want a positive duration"},
		{"inbox negative timeout", append([]string{"inbox"}, conn(good, "-1s")...), 2, "--timeout -1s"},
		{"registry status node without scheme", append([]string{"registry", "status"}, conn("127.0.0.1:8443", "1s")...), 2, `--node "127.0.0.1:8443" is not a node API address; want https://host:port`},
		{"status node not a URL", append([]string{"status"}, conn("not a url", "1s")...), 2, `--node "not a url"`},
		{"agreement list plain http", append([]string{"agreement", "list"}, conn("http://127.0.0.1:1", "1s")...), 2, "want https://host:port"},
	})
}

// TestConnectionFilesNamedByFlag: a missing certificate, key or root is
// named by the flag (and variable) that gave it, not as "certificate" or
// "federation root" alone. (From a review.)
func TestConnectionFilesNamedByFlag(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"status"}, connFlags(dir, "https://127.0.0.1:1")...)
	checkRefusals(t, dir, []badInputCase{{"no certificate", args, 1, "--cert (or LABORLINK_CERT): stat "}})
	writeFixture(t, dir, "c.pem", "not read yet")
	checkRefusals(t, dir, []badInputCase{{"no key", args, 1, "--key (or LABORLINK_KEY): stat "}})
	writeFixture(t, dir, "k.pem", "not read yet")
	checkRefusals(t, dir, []badInputCase{{"no root", args, 1, "--ca (or LABORLINK_CA): stat "}})
	writeFixture(t, dir, "root.pem", "not read yet")
	checkRefusals(t, dir, []badInputCase{{"not a key pair", args, 1, "--cert and --key: "}})
}

// TestAgreementFlagsRefused: agreement filters and versions that cannot
// match anything are refused by name, not sent to the registry.
func TestAgreementFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	conn := connFlags(dir, "https://127.0.0.1:1")
	list := func(flags ...string) []string {
		return append(append([]string{"agreement", "list"}, conn...), flags...)
	}
	checkRefusals(t, dir, []badInputCase{
		{"list bad party", list("--party", "99"), 2, `--party "99" is not a 2-digit province code`},
		{"list bad origin", list("--origin", "abc"), 2, `--origin "abc"`},
		{"list bad destination", list("--destination", "4"), 2, `--destination "4"`},
		{"list bad status", list("--status", "bogus"), 2, `--status "bogus" is not an agreement status`},
		{"list bad type", list("--type", "bogus"), 2, `--type "bogus" is not a record type`},
		{"list bad purpose", list("--purpose", "marketing"), 2, `--purpose "marketing" is not a purpose`},
		{"approve negative version", append([]string{"agreement", "approve", "AG-1", "--version", "-2"}, conn...), 2, "--version -2: want a version number"},
		{"suspend negative version", append([]string{"agreement", "suspend", "AG-1", "--version", "-1"}, conn...), 2, "--version -1"},
	})
}

// TestRecordsAndInboxRefused: inputs that can only fail are refused before
// the node is dialled, naming the flag or the file.
func TestRecordsAndInboxRefused(t *testing.T) {
	dir := t.TempDir()
	conn := connFlags(dir, "https://127.0.0.1:1")
	empty := writeFixture(t, dir, "empty.json", " [ ]\n")
	checkRefusals(t, dir, []badInputCase{
		{"submit an empty array", append([]string{"records", "submit", empty}, conn...), 1, empty + ": no records"},
		{"inbox zero limit", append([]string{"inbox", "--limit", "0"}, conn...), 2, "--limit 0: want 1 to 1000"},
		{"inbox negative limit", append([]string{"inbox", "--limit", "-5"}, conn...), 2, "--limit -5"},
		{"inbox limit too high", append([]string{"inbox", "--limit", "5000"}, conn...), 2, "--limit 5000"},
	})
}

// TestRegistryAdmitChecksTheCAFile: a --ca-cert that is not certificates
// is refused naming the file, before anything is sent to the registry.
func TestRegistryAdmitChecksTheCAFile(t *testing.T) {
	dir := t.TempDir()
	conn := connFlags(dir, "https://127.0.0.1:1")
	junk := writeFixture(t, dir, "junk.pem", "not a certificate\n")
	key := writeFixture(t, dir, "key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	broken := writeFixture(t, dir, "broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	admit := func(file string) []string {
		return append([]string{"registry", "admit", "--province", "32", "--ca-cert", file}, conn...)
	}
	checkRefusals(t, dir, []badInputCase{
		{"not PEM", admit(junk), 1, "--ca-cert " + junk + " holds no PEM certificate"},
		{"a key", admit(key), 1, "--ca-cert " + key + ": PEM block 1 is a PRIVATE KEY, not a CERTIFICATE"},
		{"a broken certificate", admit(broken), 1, "--ca-cert " + broken + ": certificate 1 is malformed:"},
	})
}

// TestPolicyFlagsRefused: policy directories that are files, and province
// codes or counts that cannot be, are refused by name; a file given as a
// province policy used to read as no policy at all.
func TestPolicyFlagsRefused(t *testing.T) {
	rec, ag := policyFixtures(t)
	dir := t.TempDir()
	file := writeFixture(t, dir, "p.rego", "package laborlink.province\n")
	missing := filepath.Join(dir, "nowhere")
	eval := func(flags ...string) []string {
		return append([]string{"policy", "eval", "--record", rec, "--agreement", ag}, flags...)
	}
	checkRefusals(t, dir, []badInputCase{
		{"eval bad --from", eval("--from", "99"), 2, `--from "99" is not a province code`},
		{"eval bad --to", eval("--to", "abc"), 2, `--to "abc" is not a province code`},
		{"eval negative --quota-used", eval("--quota-used", "-5"), 2, "--quota-used -5: want 0 or more"},
		{"eval destination policy is a file", eval("--destination-policy", file), 1, "--destination-policy: " + file + " is a file; want a directory"},
		{"eval origin policy missing", eval("--origin-policy", missing), 1, "--origin-policy: stat " + missing},
		{"eval bundle is a file", eval("--bundle", file), 1, "--bundle: read policy directory: " + file + " is a file"},
		{"test a file", []string{"policy", "test", file}, 1, "policy directory: read policy directory: " + file + " is a file"},
		{"push a file", []string{"policy", "push", file}, 1, "bundle directory: read policy directory: " + file + " is a file"},
		{"show province is a file", []string{"policy", "show", "--province", file}, 1, "--province: read policy directory: " + file + " is a file"},
	})
}

// TestProfileFlagsRefused: a profile that cannot be written is refused,
// naming its flag, when the run starts; the block, mutex and allocation
// profiles used to fail only when a node stopped, after its whole run.
func TestProfileFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	nowhere := filepath.Join(dir, "no", "such", "dir", "out")
	node := func(flag string) []string {
		return []string{"node", "--config", filepath.Join(dir, "node.yaml"), "--" + flag, nowhere}
	}
	var tests []badInputCase
	for _, flag := range []string{"cpuprofile", "trace", "blockprofile", "mutexprofile", "memprofile"} {
		tests = append(tests, badInputCase{flag, node(flag), 1, "--" + flag + ": open " + nowhere})
	}
	checkRefusals(t, dir, tests)
}

// TestPositionalArgumentsNamed: a stray argument is named, so a flag value
// that lost its flag (a misspelt --flag, a missing "--") is easy to spot.
func TestPositionalArgumentsNamed(t *testing.T) {
	dir := t.TempDir()
	checkRefusals(t, dir, []badInputCase{
		{"status", []string{"status", "extra"}, 2, `unexpected argument "extra": want no arguments`},
		{"records show", []string{"records", "show", "51/transfer/T-1", "44/transfer/T-2"}, 2, `unexpected argument "44/transfer/T-2": want an envelope id`},
		{"agreement show", []string{"agreement", "show"}, 2, "missing argument: want an agreement ID"},
		{"policy show", []string{"policy", "show", "dir"}, 2, `unexpected argument "dir"`},
		{"registry backup", []string{"registry", "backup"}, 2, "missing argument: want the backup FILE to write"},
	})
}

// TestRegistryProvinceRequired: a missing --province is reported as
// missing, not as the empty string being a bad code.
func TestRegistryProvinceRequired(t *testing.T) {
	dir := t.TempDir()
	checkRefusals(t, dir, []badInputCase{
		{"admit", []string{"registry", "admit", "--ca-cert", filepath.Join(dir, "ca.pem")}, 2, "--province is required"},
		{"revoke a serial", []string{"registry", "revoke", "abc"}, 2, "--province is required with a serial"},
	})
}
