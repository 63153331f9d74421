package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// run drives Main as the binary would and returns the exit status and output.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"version"}, 0, "laborlink dev", ""},
		{[]string{"help"}, 0, "commands:", ""},
		{[]string{"-h"}, 0, "commands:", ""},
		{[]string{"--help"}, 0, "commands:", ""},
		{[]string{"--help", "dev"}, 0, "usage: laborlink dev", ""},
		{[]string{}, 2, "", "usage: laborlink"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, 2, "", `no command "frobnicate"`},
		{[]string{"help", "help"}, 0, "commands:", ""}, // not "no command", with help in the list
		{[]string{"version", "extra"}, 2, "", "takes no arguments"},
		{[]string{"help", "version"}, 0, "usage: laborlink version", ""},
		{[]string{"help", "registry", "status"}, 0, "usage: laborlink registry status", ""},
		{[]string{"help", "pki", "issue"}, 0, "usage: laborlink pki issue", ""},
		{[]string{"deadletters", "requeue", "--peer", "44"}, 2, "", "name the envelope id to requeue, or --all"},
		{[]string{"deadletters", "requeue", "--peer", "4", "--all"}, 2, "", "--peer must be a province code"},
		{[]string{"deadletters", "requeue", "--peer", "44", "--all", "01J"}, 2, "", "exclude each other"},
		{[]string{"deadletters", "list", "--peer", "44"}, 2, "", "missing --node (or LABORLINK_NODE)"},
		// The config file can come from the environment too: say so.
		{[]string{"node"}, 2, "", "--config (or LABORLINK_CONFIG) is required"},
		// A discard of --all needs --through: its usage must not show it optional.
		{[]string{"help", "deadletters", "discard"}, 0, "usage: laborlink deadletters discard --peer 44 (ENVELOPE_ID | --all --through N)", ""},
		// Agreement changes are entries of record type agreement: --type takes it.
		{[]string{"help", "audit", "query"}, 0, "one record type (transfer, confirmation, agreement, referral, referral-update)", ""},
		// agreement usage lines name each of their flags, --version, --consistent and --json too.
		{[]string{"help", "agreement", "terminate"}, 0, "usage: laborlink agreement terminate ID [--reason TEXT] [--version N]", ""},
		{[]string{"help", "agreement", "list"}, 0, "[--purpose P] [--consistent] [--json] [connection flags]", ""},
		{[]string{"help", "agreement", "show"}, 0, "usage: laborlink agreement show ID [--history] [--consistent] [--json]", ""},
		{[]string{"help", "deadletters", "requeue"}, 0, "usage: laborlink deadletters requeue --peer 44 (ENVELOPE_ID | --all [--through N])", ""},
		{[]string{"bench", "--memory-limit", "200"}, 2, "", "--memory-limit must be a positive number of MiB, and needs --processes"},
		{[]string{"bench", "--processes", "--memory-limit", "-1"}, 2, "", "--memory-limit must be a positive number of MiB"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(out, tt.inStdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.inStdout)
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.inStderr)
			}
		})
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	_, out, _ := run(t, "", "help")
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("help does not list %q:\n%s", c.name, out)
		}
	}
}

// TestGroupUsageSaysWhereConnectionFlagsAre: a group's -h says how its
// subcommands reach a node without claiming every one does (policy test
// and audit verify --file work offline), and points at the section of
// docs/configuration.md that explains the flags.
func TestGroupUsageSaysWhereConnectionFlagsAre(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\n## Command-line tools\n") {
		t.Fatal(`docs/configuration.md has no section "Command-line tools"`)
	}
	for _, group := range []string{"policy", "audit", "registry"} {
		_, _, errOut := run(t, "", group, "-h")
		if strings.Contains(errOut, "Every subcommand talks to a node") {
			t.Errorf("%s -h says every subcommand talks to a node:\n%s", group, errOut)
		}
		if !strings.Contains(errOut, "see docs/configuration.md,\n\"Command-line tools\"") {
			t.Errorf("%s -h does not point at docs/configuration.md, \"Command-line tools\":\n%s", group, errOut)
		}
	}
}

// TestConfigurationListsTheCommandsThatReachANode: docs/configuration.md,
// "Command-line tools", names every command one of whose subcommands
// takes the connection flags it explains. It left out deadletters and
// policy.
func TestConfigurationListsTheCommandsThatReachANode(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Command-line tools\n")
	list, _, _ := strings.Cut(section, ") do not read the node's file")
	groups := map[string][]command{
		"agreement": agreementCommands(), "audit": auditCommands(), "deadletters": deadlettersCommands(),
		"policy": policyCommands(), "records": recordsCommands(), "registry": registryCommands(),
	}
	for _, c := range commands() {
		calls := [][]string{{c.name, "-h"}}
		if sub, ok := groups[c.name]; ok {
			calls = nil
			for _, s := range sub {
				calls = append(calls, []string{c.name, s.name, "-h"})
			}
		}
		reaches := false
		for _, args := range calls {
			if _, _, errOut := run(t, "", args...); strings.Contains(errOut, "\n  -node string") {
				reaches = true
			}
		}
		if reaches && !strings.Contains(list, "`"+c.name+"`") {
			t.Errorf("laborlink %s takes --node, but configuration.md's command-line tools do not list it", c.name)
		}
	}
}

// TestConnFlagNamesAreTheConnectionFlags: the commands that refuse
// connection flags where no node is asked list them by connFlagNames; a
// flag connFlags adds and the list lacks would be silently ignored there,
// as --crl was by audit verify --file.
func TestConnFlagNamesAreTheConnectionFlags(t *testing.T) {
	fs := flag.NewFlagSet("conn", flag.ContinueOnError)
	(&Main{}).connFlags(fs)
	var defined []string
	fs.VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })
	if !slices.Equal(defined, connFlagNames) {
		t.Errorf("connFlags defines %q; connFlagNames lists %q", defined, connFlagNames)
	}
}

// TestMissingConnectionFlagsNamed: a command short of connection flags
// names exactly those missing, each with the variable that can give it
// and what it stands for. The message named every flag by its name only,
// and said "the node to talk to" also when only --node was given.
func TestMissingConnectionFlagsNamed(t *testing.T) {
	all := "missing --node (or LABORLINK_NODE), the node to talk to; --cert (or LABORLINK_CERT), your certificate; " +
		"--key (or LABORLINK_KEY), your private key; --ca (or LABORLINK_CA), the federation root"
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		want     string
		unwanted []string
	}{
		{"none, registry", nil, []string{"registry", "status"}, all, nil},
		{"none, local API", nil, []string{"inbox"}, all, nil},
		{"only --node", nil, []string{"registry", "status", "--node", "https://127.0.0.1:1"},
			"missing --cert (or LABORLINK_CERT), your certificate; --key (or LABORLINK_KEY), your private key; --ca (or LABORLINK_CA), the federation root",
			[]string{"--node", "the node to talk to"}},
		{"node and cert from the environment", map[string]string{envNode: "https://127.0.0.1:1", envCert: "c.pem"}, []string{"audit", "query"},
			"missing --key (or LABORLINK_KEY), your private key; --ca (or LABORLINK_CA), the federation root",
			[]string{"--node", "--cert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }}
			code := m.Run(context.Background(), tt.args)
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
			for _, u := range tt.unwanted {
				if strings.Contains(errb.String(), u) {
					t.Errorf("stderr %q names %q, which was given", errb.String(), u)
				}
			}
		})
	}
}

// TestHelpListsNodeProvinceWhereTaken: a command's -h lists --node-province
// only if the command takes it, those that read a node's own data. The
// registry's and agreement commands and policy push, which any node
// answers, listed it among their flags and then refused it.
func TestHelpListsNodeProvinceWhereTaken(t *testing.T) {
	takes := map[string]bool{"policy eval": true, "policy show": true}
	groups := map[string][]command{
		"agreement": agreementCommands(), "audit": auditCommands(), "deadletters": deadlettersCommands(),
		"policy": policyCommands(), "records": recordsCommands(), "registry": registryCommands(),
	}
	for _, c := range auditCommands() {
		takes["audit "+c.name] = true
	}
	for _, c := range recordsCommands() {
		takes["records "+c.name] = true
	}
	for _, c := range deadlettersCommands() {
		takes["deadletters "+c.name] = true
	}
	calls := [][]string{{"inbox"}, {"status"}}
	takes["inbox"], takes["status"] = true, true
	for group, sub := range groups {
		for _, s := range sub {
			calls = append(calls, []string{group, s.name})
		}
	}
	checked := map[bool]int{} // by whether the command takes --node-province
	for _, args := range calls {
		name := strings.Join(args, " ")
		_, _, errOut := run(t, "", append(args, "-h")...)
		if !strings.Contains(errOut, "\n  -node string") {
			continue // reaches no node: policy test
		}
		checked[takes[name]]++
		if got := strings.Contains(errOut, "\n  -node-province string"); got != takes[name] {
			t.Errorf("laborlink %s -h lists --node-province: %v, want %v", name, got, takes[name])
		}
	}
	// Help whose flag lines no longer read "  -node string" would skip
	// every command above, and pass.
	if checked[true] == 0 || checked[false] == 0 {
		t.Errorf("checked %d commands that take --node-province and %d that do not; want some of each", checked[true], checked[false])
	}
}
