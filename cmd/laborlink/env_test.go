package main

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/node"
)

// TestCLIEnvIsEveryVariableRead: the LABORLINK_ variables a node spares as
// the command line's own are exactly those some command's flags read, so a
// flag given a variable cannot make every node warn about it, nor a flag
// dropped leave the node sparing a misspelling.
func TestCLIEnvIsEveryVariableRead(t *testing.T) {
	groups := map[string][]command{
		"agreement": agreementCommands(), "audit": auditCommands(), "deadletters": deadlettersCommands(),
		"pki": pkiCommands(), "policy": policyCommands(), "records": recordsCommands(), "registry": registryCommands(),
	}
	var calls [][]string
	for _, c := range commands() {
		if sub, ok := groups[c.name]; ok {
			for _, s := range sub {
				calls = append(calls, []string{c.name, s.name, "--help"})
			}
		} else if c.name != "help" {
			calls = append(calls, []string{c.name, "--help"})
		}
	}
	read := map[string]bool{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, LookupEnv: func(name string) (string, bool) {
		if strings.HasPrefix(name, "LABORLINK_") {
			read[name] = true
		}
		return "", false
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // --help runs nothing
	for _, args := range calls {
		if code := m.Run(ctx, args); code != 0 {
			t.Errorf("laborlink %s: exit %d", strings.Join(args, " "), code)
		}
	}
	var own []string // read, and no node setting
	for name := range read {
		if len(node.UnknownEnv([]string{name + "=x"})) != 0 {
			own = append(own, name)
		}
	}
	slices.Sort(own)
	if want := slices.Sorted(slices.Values(cliEnv)); !slices.Equal(own, want) {
		t.Errorf("commands read %v beyond the node's settings (all read: %v); cliEnv has %v", own, slices.Sorted(maps.Keys(read)), want)
	}
}

// TestConfigurationNamesTheVariablesNodesSpare: docs/configuration.md
// names every variable of the command line's that a node does not warn
// about; it left out LABORLINK_CONFIG and LABORLINK_CRLS.
func TestConfigurationNamesTheVariablesNodesSpare(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sentence, _ := strings.Cut(string(b), "A `LABORLINK_` variable that is no setting")
	sentence, _, _ = strings.Cut(sentence, "is logged as a warning")
	for _, name := range cliEnv {
		short := "`_" + strings.TrimPrefix(name, "LABORLINK_") + "`"
		if !strings.Contains(sentence, "`"+name+"`") && !strings.Contains(sentence, short) {
			t.Errorf("configuration.md does not say that a node spares %s", name)
		}
	}
}
