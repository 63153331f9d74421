package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyOnNodeRefusesOfflineFlags: with --node, policy eval ran on the
// node and silently dropped --agreement, --date, --quota-used, --peer,
// --bundle, --origin-policy and --destination-policy: a dry run "as of
// 2099" or "under this draft pact" answered for today and the registry
// instead, and exited 0; policy show dropped --bundle and --province. Both
// must refuse the combination, naming the flags. (From a review.)
func TestPolicyOnNodeRefusesOfflineFlags(t *testing.T) {
	recordFile, agreementFile := policyFixtures(t)
	dir := t.TempDir()
	// Real certificates, no node: without the refusal it dials the node
	// (against a running one it answers for the node and exits 0).
	conn := devConnFlags(t, "system-hr", "https://127.0.0.1:1")
	for _, tt := range []struct {
		flag string
		args []string
	}{
		{"--date", []string{"eval", "--record", recordFile, "--date", "2099-01-01"}},
		{"--agreement", []string{"eval", "--record", recordFile, "--agreement", agreementFile}},
		{"--quota-used", []string{"eval", "--record", recordFile, "--quota-used", "5"}},
		{"--peer", []string{"eval", "--record", recordFile, "--peer", "spiffe://p44.laborlink.test/node/gw-1"}},
		{"--bundle", []string{"eval", "--record", recordFile, "--bundle", dir}},
		{"--origin-policy", []string{"eval", "--record", recordFile, "--origin-policy", filepath.Join(dir, "no-such-dir")}},
		{"--destination-policy", []string{"eval", "--record", recordFile, "--destination-policy", dir}},
		{"--bundle", []string{"show", "--bundle", dir}},
		{"--province", []string{"show", "--province", dir}},
	} {
		t.Run(strings.Join(tt.args[:1], " ")+" "+tt.flag, func(t *testing.T) {
			args := append(append([]string{"policy"}, tt.args...), conn...)
			code, _, errOut := run(t, "", args...)
			if code != 2 || !strings.Contains(errOut, tt.flag) || !strings.Contains(errOut, "--node") {
				t.Errorf("laborlink %s: exit %d, stderr %q; want exit 2 naming %s and --node", strings.Join(args, " "), code, errOut, tt.flag)
			}
		})
	}
}

// TestPolicyOfflineIsNotHijackedByEnv: the operator guide tells operators
// to export LABORLINK_NODE/CERT/KEY/CA; an offline dry run of a draft pact
// (--agreement, --date, no --node) then silently went to that node
// instead, which decides under the registry and today; policy show
// --bundle showed the node's revisions. Offline flags without --node are
// an offline run. (From a review.)
func TestPolicyOfflineIsNotHijackedByEnv(t *testing.T) {
	recordFile, agreementFile := policyFixtures(t)
	conn := devConnFlags(t, "system-hr", "https://127.0.0.1:1")
	env := map[string]string{envNode: conn[1], envCert: conn[3], envKey: conn[5], envCA: conn[7]}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"policy", "eval", "--record", recordFile, "--agreement", agreementFile, "--date", "2026-06-01"}, "export: "},
		{[]string{"policy", "show", "--bundle", filepath.Join("..", "..", "gateway", "policy", "bundle")}, "revisions of local files"},
	} {
		t.Run(tt.args[1], func(t *testing.T) {
			var out, errb bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			code := m.Run(context.Background(), tt.args)
			if strings.Contains(errb.String(), "127.0.0.1:1") || !strings.Contains(out.String(), tt.want) {
				t.Errorf("laborlink %s with LABORLINK_NODE set: exit %d, stdout %q, stderr %q; want it run offline", strings.Join(tt.args, " "), code, out.String(), errb.String())
			}
		})
	}
}

// TestPolicyOfflineRefusesConnectionFlags: an offline dry run (no --node)
// silently ignored --cert, --key, --ca, --crl, --node-province and
// --timeout given on the command line, which someone meaning to ask a node
// typed; it now refuses them, naming them. The same variables from the
// environment are not refused (TestPolicyOfflineIsNotHijackedByEnv). (From
// a review.)
func TestPolicyOfflineRefusesConnectionFlags(t *testing.T) {
	recordFile, agreementFile := policyFixtures(t)
	for _, tt := range []struct {
		flag string
		args []string
	}{
		{"--timeout", []string{"eval", "--record", recordFile, "--agreement", agreementFile, "--timeout", "5s"}},
		{"--cert", []string{"eval", "--record", recordFile, "--agreement", agreementFile, "--cert", "me.pem"}},
		{"--node-province", []string{"show", "--node-province", "44"}},
	} {
		t.Run(strings.Join(tt.args[:1], " ")+" "+tt.flag, func(t *testing.T) {
			args := append([]string{"policy"}, tt.args...)
			code, _, errOut := run(t, "", args...)
			if code != 2 || !strings.Contains(errOut, tt.flag) || !strings.Contains(errOut, "offline") {
				t.Errorf("laborlink %s: exit %d, stderr %q; want exit 2 naming %s as unused offline", strings.Join(args, " "), code, errOut, tt.flag)
			}
		})
	}
}

// TestPolicyEvalReadsStandardInputOnce: --record - and --agreement - both
// read standard input; the second read found it empty and reported the
// file as no agreement, which named neither the cause nor the flags.
// (From a review.)
func TestPolicyEvalReadsStandardInputOnce(t *testing.T) {
	recordFile, _ := policyFixtures(t)
	for _, args := range [][]string{
		{"policy", "eval", "--record", "-", "--agreement", "-"},
		{"policy", "eval", "--record", recordFile, "--agreement", "-", "--agreement", "-"},
	} {
		code, _, errOut := run(t, "", args...)
		if code != 2 || !strings.Contains(errOut, "standard input") {
			t.Errorf("laborlink %s: exit %d, stderr %q; want exit 2 saying standard input is read once", strings.Join(args, " "), code, errOut)
		}
	}
}
