package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevInitOnlyRefusesPortsNodesRefuse: dev --init-only wrote a
// federation (PKI, genesis with the voters' addresses, node configs) from
// --api-port, --raft-port and --ops-listen without checking them, exited 0,
// and every node it prepared then refused its own config. The compose init
// step (--keep) kept the broken federation at every start after that.
// (From a review.)
func TestDevInitOnlyRefusesPortsNodesRefuse(t *testing.T) {
	nodes := []string{"--node", "51=p51", "--node", "44=p44", "--node", "33=p33"}
	for _, tt := range []struct {
		name  string
		extra []string
		flag  string
	}{
		{"api port out of range", []string{"--api-port", "70000"}, "--api-port"},
		{"raft port zero", []string{"--raft-port", "0"}, "--raft-port"},
		{"api port is the raft port", []string{"--api-port", "8300"}, "--api-port"},
		{"ops listener on the api port", []string{"--ops-listen", "0.0.0.0:8443"}, "--ops-listen"},
		{"ops listener on a node's host and raft port", []string{"--ops-listen", "P44:8300"}, "--ops-listen"},
		{"ops listener not host:port", []string{"--ops-listen", "9090"}, "--ops-listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fed")
			args := append(append([]string{"dev", "--init-only", "--dir", dir}, nodes...), tt.extra...)
			code, _, errOut := run(t, "", args...)
			if code != 2 || !strings.Contains(errOut, tt.flag) {
				t.Errorf("laborlink %s: exit %d, stderr %q; want exit 2 naming %s", strings.Join(args, " "), code, errOut, tt.flag)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("laborlink %s wrote %s; want nothing written", strings.Join(args, " "), dir)
			}
		})
	}

	// A host no other node can dial is named with its --node flag.
	dir := filepath.Join(t.TempDir(), "fed")
	code, _, errOut := run(t, "", "dev", "--init-only", "--dir", dir, "--node", "51=0.0.0.0", "--node", "44=p44", "--node", "33=p33")
	if code != 2 || !strings.Contains(errOut, "--node 51=0.0.0.0") {
		t.Errorf("dev --init-only --node 51=0.0.0.0: exit %d, stderr %q; want exit 2 naming --node 51=0.0.0.0", code, errOut)
	}

	// The node refuses only listeners that share a port: an ops listener
	// on the API port of another host is one it accepts.
	dir = filepath.Join(t.TempDir(), "fed")
	args := append([]string{"dev", "--init-only", "--dir", dir, "--ops-listen", "127.0.0.1:8443"}, nodes...)
	if code, _, errOut := run(t, "", args...); code != 0 {
		t.Errorf("laborlink %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
}
