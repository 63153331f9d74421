package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/node"
)

// TestDevInitOnly prepares a federation directory for containers, as the
// compose file's init service does, and checks every node config loads and
// points at its own hosts and files.
func TestDevInitOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fed")
	args := []string{"dev", "--init-only", "--dir", dir, "--node", "51=p51", "--node", "44=p44", "--node", "33=p33"}
	if code, _, errOut := run(t, "", args...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g registry.Genesis
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Voters) != 3 || g.Voters[0].APIAddr != "p51:8443" || g.Voters[0].RaftAddr != "p51:8300" {
		t.Errorf("genesis voters = %+v, want p51:8443 / p51:8300 first of three", g.Voters)
	}
	for _, p := range []string{"51", "44", "33"} {
		cfg, err := node.LoadConfig(filepath.Join(dir, "p"+p, "node.yaml"), nil)
		if err != nil {
			t.Fatalf("p%s: %v", p, err)
		}
		if cfg.Listen != "p"+p+":8443" || cfg.Raft.Listen != "p"+p+":8300" || cfg.OpsListen != "0.0.0.0:9090" {
			t.Errorf("p%s listens on %s, raft %s, ops %s", p, cfg.Listen, cfg.Raft.Listen, cfg.OpsListen)
		}
		// Everything a node reads lies in its own province's directory.
		for _, f := range []string{cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.Root, cfg.Raft.Genesis} {
			if !strings.HasPrefix(f, filepath.Join(dir, "p"+p)+string(filepath.Separator)) {
				t.Errorf("p%s reads %s, outside its directory", p, f)
			}
			if _, err := os.Stat(f); err != nil {
				t.Error(err)
			}
		}
	}

	code, _, errOut := run(t, "", args...)
	if code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("a second init: exit %d, stderr %q; want a refusal naming --force", code, errOut)
	}
	if code, out, errOut := run(t, "", append(args, "--keep")...); code != 0 || !strings.Contains(out, "kept") {
		t.Errorf("init --keep: exit %d, stdout %q, stderr %q; want the federation kept", code, out, errOut)
	}
	if code, _, errOut := run(t, "", append(args, "--force")...); code != 0 {
		t.Errorf("init --force: exit %d: %s", code, errOut)
	}

	// Running a federation in the directory refuses it too, without
	// --force: it deleted the PKI and the nodes' data without a word.
	// (From a review.)
	root := filepath.Join(dir, "pki", "root", "root.pem")
	before, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "", "dev", "--dir", dir); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("dev --dir over a federation: exit %d, stderr %q; want a refusal naming --force", code, errOut)
	}
	if after, err := os.ReadFile(root); err != nil || string(after) != string(before) {
		t.Errorf("dev --dir over a federation changed its root CA (%v)", err)
	}
}

func TestDevInitOnlyUsage(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(writeFixture(t, dir, "file", ""), "fed")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--init-only", "--node", "51=p51", "--node", "44=p44"}, "needs --dir"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=p51"}, "odd number of --node P=HOST, three or more, for the registry's raft voters (it has 1)"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=p51", "--node", "44=p44"}, "(it has 2)"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c", "--node", "11=d"}, "(it has 4)"},
		{[]string{"--init-only", "--dir", dir, "--node", "51"}, "PROVINCE=HOST"},
		{[]string{"--init-only", "--dir", dir, "--node", "5x=a", "--node", "44=b", "--node", "33=c"}, "province code"},
		// Written as "[p51:9000]:8443", where no node can listen.
		{[]string{"--init-only", "--dir", dir, "--node", "51=p51:9000", "--node", "44=b", "--node", "33=c"}, "the ports are --api-port and --raft-port"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=[::1]", "--node", "44=b", "--node", "33=c"}, `"[::1]" is not a host name or IP address`},
		{[]string{"--node", "51=p51"}, "--node goes with --init-only"},
		// Without --init-only these were ignored; the --dir that cannot
		// be made keeps a test without the check from starting nodes.
		{[]string{"--dir", notDir, "--api-port", "9443"}, "--api-port goes with --init-only"},
		{[]string{"--dir", notDir, "--raft-port", "9300"}, "--raft-port goes with --init-only"},
		{[]string{"--dir", notDir, "--ops-listen", "127.0.0.1:9090"}, "--ops-listen goes with --init-only, as do --node, --keep, --api-port, --raft-port and --ops-listen: without it, laborlink dev runs its nodes, and their ops listeners, on free loopback ports"},
		{[]string{"--dir", notDir, "--keep"}, "--keep goes with --init-only"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c", "--transfers", "5"}, "--transfers goes with a running federation"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c", "--verbose"}, "--verbose goes with a running federation"},
		{[]string{"--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c", "--keep", "--force"}, "contradict"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, "", append([]string{"dev"}, tt.args...)...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want an error containing %q", code, errOut, tt.want)
			}
		})
	}
}
