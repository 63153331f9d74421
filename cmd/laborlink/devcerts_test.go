package main

import (
	"path/filepath"
	"testing"
)

// devConnFlags prepares a federation directory (no node runs) and returns
// connection flags for node with real client certificates of province 51,
// kind naming them as the directory does (system-hr, auditor-auditor).
func devConnFlags(t *testing.T, kind, node string) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fed")
	if code, _, errOut := run(t, "", "dev", "--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c"); code != 0 {
		t.Fatalf("dev --init-only: exit %d: %s", code, errOut)
	}
	p := filepath.Join(dir, "pki", "p51")
	return []string{"--node", node, "--cert", filepath.Join(p, kind+".pem"), "--key", filepath.Join(p, kind+"-key.pem"), "--ca", filepath.Join(dir, "pki", "root", "root.pem")}
}
