package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/durable"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// admin runs the CLI as an admin of a cluster node: the connection flags
// come from the environment, as an operator would set them.
type adminCLI struct {
	t   *testing.T
	env map[string]string
	// stdin is what the commands read from standard input.
	stdin string
}

func newAdminCLI(t *testing.T, c *regtest.Cluster, n *regtest.Node, a *regtest.Admin) *adminCLI {
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, c.PKI.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &adminCLI{t: t, env: map[string]string{
		"LABORLINK_NODE": n.API(), "LABORLINK_CERT": a.Leaf.CertFile, "LABORLINK_KEY": a.Leaf.KeyFile, "LABORLINK_CA": root,
	}}
}

func (a *adminCLI) run(args ...string) (int, string, string) {
	a.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(a.stdin), Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) { v, ok := a.env[k]; return v, ok }}
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func (a *adminCLI) ok(want string, args ...string) string {
	a.t.Helper()
	code, out, errOut := a.run(args...)
	if code != 0 || !strings.Contains(out, want) {
		a.t.Fatalf("laborlink %s: exit %d, stdout %q does not contain %q; stderr %s", strings.Join(args, " "), code, out, want, errOut)
	}
	return out
}

func (a *adminCLI) fails(want string, args ...string) {
	a.t.Helper()
	code, _, errOut := a.run(args...)
	if code == 0 || !strings.Contains(errOut, want) {
		a.t.Fatalf("laborlink %s: exit %d, stderr %q does not contain %q", strings.Join(args, " "), code, errOut, want)
	}
}

// refusedAtHandshake reports whether err is how a client sees the server
// refuse its certificate (see pki.RefusalHints).
func refusedAtHandshake(err string) bool {
	return strings.Contains(err, "may have refused this certificate at the TLS handshake")
}

// refused runs a command the server must refuse at the handshake.
func (a *adminCLI) refused(args ...string) {
	a.t.Helper()
	code, _, errOut := a.run(args...)
	if code == 0 || !refusedAtHandshake(errOut) {
		a.t.Fatalf("laborlink %s: exit %d, stderr %q: not refused at the handshake", strings.Join(args, " "), code, errOut)
	}
}

const pactYAML = `schema: laborlink.agreement/v1
id: AG-51-44-2026-001
version: 1
title: 川粤劳务协作协议
origin: {division: "510000", name: 四川省人力资源和社会保障厅}
destination: {division: "440000", name: 广东省人力资源和社会保障厅}
valid_from: %FROM%
valid_until: %UNTIL%
scope:
  - record_type: transfer
    purposes: [employment-service, statistics]
    fields: [worker]
`

func TestAgreementAndRegistryCommandsAgainstACluster(t *testing.T) {
	c := regtest.NewCluster(t, 3, 1, nil)
	a51 := newAdminCLI(t, c, c.Nodes[3], c.PKI.Admin(t, "51", "zhang"))
	a44 := newAdminCLI(t, c, c.Nodes[1], c.PKI.Admin(t, "44", "li"))
	a11 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "11", "wang"))

	now := time.Now()
	pact := strings.NewReplacer("%FROM%", registry.DayOf(now.AddDate(0, 0, -1)).String(), "%UNTIL%", registry.DayOf(now.AddDate(1, 0, 0)).String()).Replace(pactYAML)
	file := filepath.Join(t.TempDir(), "pact.yaml")
	if err := os.WriteFile(file, []byte(pact), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "AG-51-44-2026-001"
	a51.ok("needs the approval of provinces 51 and 44", "agreement", "propose", "-f", file)
	a51.fails("already exists", "agreement", "propose", "-f", file)
	a51.fails("agreement "+id+" has no version 9: its versions are 1 to 1", "agreement", "approve", id, "--version", "9")
	a51.ok("approved; now proposed", "agreement", "approve", id)
	a11.fails("province 11 is not a party", "agreement", "approve", id)
	a44.fails(`unknown agreement "AG-NOPE"`, "agreement", "approve", "AG-NOPE")
	a44.fails("only an approved agreement in force can be suspended", "agreement", "suspend", id)
	a44.ok("approved; now active", "agreement", "approve", id)
	a44.ok("suspended; now suspended", "agreement", "suspend", id, "--reason", "review")
	a51.fails("only the suspending party can resume", "agreement", "resume", id)
	a44.ok("resumed; now active", "agreement", "resume", id)

	a51.ok(id, "agreement", "list", "--party", "51", "--status", "active", "--consistent")
	if out := a51.ok("ID", "agreement", "list", "--status", "terminated"); strings.Contains(out, id) {
		t.Fatalf("terminated list shows the active agreement:\n%s", out)
	}
	// amend sends the amendment of this release, agreement.amend.v2.
	amended := filepath.Join(t.TempDir(), "pact-v2.yaml")
	if err := os.WriteFile(amended, []byte(strings.Replace(pact, "title: 川粤劳务协作协议", "title: 川粤劳务协作协议（修订）", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	a51.ok("version 2 proposed", "agreement", "amend", id, "-f", amended)
	out := a44.ok("status:      active", "agreement", "show", id, "--history", "--consistent")
	for _, want := range []string{"propose", "approve", "suspend", "resume", "review", "p44.laborlink.test/admin/li", "amend"} {
		if !strings.Contains(out, want) {
			t.Errorf("show --history lacks %q:\n%s", want, out)
		}
	}
	rec, err := c.Nodes[1].Reg.Store().Agreement(id) // read after --consistent
	if err != nil {
		t.Fatal(err)
	}
	if last := rec.History[len(rec.History)-1]; last.Op != "agreement.amend.v2" {
		t.Errorf("agreement amend recorded %s, want agreement.amend.v2", last.Op)
	}
	a11.ok("leader:", "registry", "status")
	before := c.WaitLeader()
	a44.fails("only admins of steward provinces", "registry", "transfer-leadership")
	a11.ok("leadership handed over by "+before.ID, "registry", "transfer-leadership")
	pkitest.Eventually(t, 10*time.Second, "a new leader", func() bool {
		for _, n := range c.Running() {
			if n.ID != before.ID && n.Reg.Status().State == "Leader" {
				return true
			}
		}
		return false
	})
	a11.ok("Guangdong", "registry", "members")
	if out := a11.ok("every node knows the commands of this release", "registry", "levels"); strings.Count(out, fmt.Sprintf("  %d", registry.CommandLevel)) != len(c.Nodes) {
		t.Errorf("registry levels lists a level per node:\n%s", out)
	}

	// A new province joins: its CA signed by the root, admitted by a steward.
	csr, err := pki.NewProvinceCSR(filepath.Join(t.TempDir(), "p32"), "32", pki.CSROptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca32, err := c.PKI.Fed.Root.SignProvince(csr, pki.SignProvinceOptions{Province: "32"})
	if err != nil {
		t.Fatal(err)
	}
	a51.fails("steward", "registry", "admit", "--province", "32", "--ca-cert", ca32.CertFile)
	a11.fails("--ca-cert is required", "registry", "admit", "--province", "32")
	// admit sends the admission of this release, member.add.v2, which lists
	// only the province's own CA.
	ca44, err := c.PKI.Fed.CA("44")
	if err != nil {
		t.Fatal(err)
	}
	a11.fails("is constrained to province 44, not 32", "registry", "admit", "--province", "32", "--ca-cert", filepath.Join(ca44.Dir, pki.CACertFile))
	a11.ok("province 32 (Jiangsu) admitted", "registry", "admit", "--province", "32", "--ca-cert", ca32.CertFile)
	c.WaitConverged()
	a11.ok("Jiangsu", "registry", "members")

	// A province records the revocation of one of its certificates; every
	// node then refuses that serial.
	lost := c.PKI.Issue(t, "44", pki.KindSystem, "laptop")
	a51.fails("cannot revoke certificates of province 44", "registry", "revoke", lost.CertFile, "--reason", "keyCompromise")
	a44.ok("revoked in the registry", "registry", "revoke", lost.CertFile, "--reason", "keyCompromise")
	pkitest.Eventually(t, 10*time.Second, "the revocation on every node", func() bool {
		for _, n := range c.Running() {
			if !n.Reg.IsRevoked(lost.Cert) {
				return false
			}
		}
		return true
	})
	// Revoking it again is refused, naming the serial and when it was
	// revoked: the first revocation stays the record of it.
	a44.fails(fmt.Sprintf("serial %x of province 44 is revoked already, at ", lost.Cert.SerialNumber.Bytes()),
		"registry", "revoke", lost.CertFile, "--reason", "superseded")
	c.WaitConverged()
	for _, n := range c.Running() {
		if rs := n.Reg.Store().Revocations(); len(rs) != 1 || rs[0].Reason != "keyCompromise" {
			t.Fatalf("revocations on %s after revoking again: %+v; want the first, for keyCompromise", n.ID, rs)
		}
	}
	// A province naming another province's serial as its own revokes nothing
	// of the other's: revocations are scoped by the revoking province.
	other := c.PKI.Issue(t, "44", pki.KindNode, "gw-9")
	a51.ok("revoked in the registry", "registry", "revoke", other.Cert.SerialNumber.Text(16), "--province", "51")
	c.WaitConverged()
	for _, n := range c.Running() {
		if n.Reg.IsRevoked(other.Cert) {
			t.Fatalf("51 revoked a certificate of 44 on %s", n.ID)
		}
	}

	// A province records what its CA issued; another province cannot.
	hr51 := c.PKI.Issue(t, "51", pki.KindSystem, "hr")
	a44.fails("cannot record certificates of province 51", "registry", "issued", hr51.CertFile)
	a44.ok("issuance of serial "+other.Cert.SerialNumber.Text(16)+" (node) recorded", "registry", "issued", other.CertFile)
	a44.fails("no such file", "registry", "issued", filepath.Join(t.TempDir(), "missing.pem"))
	c.WaitConverged()
	for _, n := range c.Running() {
		if got := n.Reg.Store().Issuances(); len(got) != 1 || got[0].Serial != fmt.Sprintf("%x", other.Cert.SerialNumber.Bytes()) {
			t.Fatalf("issuances on %s: %+v", n.ID, got)
		}
	}

	// Back up through the CLI, restore into a fresh cluster of the same
	// federation, and find the agreement there with its history.
	backup := filepath.Join(t.TempDir(), "registry.json")
	a51.fails("only admins of steward provinces", "registry", "backup", backup)
	a11.ok("backed up", "registry", "backup", backup)
	// "-" is standard output, as elsewhere: the same backup, and no file.
	a11.ok(`"state"`, "registry", "backup", "-")
	if _, err := os.Stat("-"); err == nil {
		t.Error("registry backup - wrote a file named -")
	}

	// A node certificate, even a real one, cannot restore a registry or move
	// its leadership: only a steward admin's own request can.
	rogue := c.PKI.Issue(t, "44", pki.KindNode, "rogue")
	kp, err := pki.LoadKeyPair(rogue.CertFile, rogue.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	nodeClient, err := registry.NewClient(c.Nodes[1].API(), &pki.TLS{KeyPair: kp, Verifier: &pki.Verifier{Roots: c.PKI.Fed.Roots()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(backup)
	if err := nodeClient.Restore(context.Background(), bytes.NewReader(data)); registry.ErrorCode(err) != registry.EForbidden {
		t.Errorf("restore by a node certificate: %v, want forbidden", err)
	}
	if _, err := nodeClient.TransferLeadership(context.Background(), ""); registry.ErrorCode(err) != registry.EForbidden {
		t.Errorf("leadership transfer by a node certificate: %v, want forbidden", err)
	}

	fresh := regtest.NewClusterWithPKI(t, c.PKI, 3, 0, nil)
	f11 := newAdminCLI(t, fresh, fresh.Nodes[2], c.PKI.Admin(t, "11", "chen"))
	f11.fails(`unknown agreement`, "agreement", "show", id)
	// "-" is standard input, as backup's is standard output (the guide's
	// tested restore reads a file).
	f11.stdin = string(data)
	f11.ok("registry restored from standard input", "registry", "restore", "-")
	fresh.WaitConverged()
	out = f11.ok("status:      active", "agreement", "show", id, "--history", "--consistent")
	if !strings.Contains(out, "resume") {
		t.Errorf("restored agreement lost its history:\n%s", out)
	}
	st := fresh.Nodes[0].Reg.Status()
	if len(st.Servers) != 3 || st.Servers[0].Address == c.Nodes[0].Config.RaftAddr {
		t.Errorf("the restored registry should keep the fresh cluster's servers: %+v", st.Servers)
	}
	// The restored registry goes on accepting signed commands.
	newAdminCLI(t, fresh, fresh.Nodes[1], c.PKI.Admin(t, "51", "zhou")).ok("terminated; now terminated", "agreement", "terminate", id)
}

// TestRegistryExpel takes a province out of the federation in order: a
// steward's expel is refused while the province has a node or an agreement
// that has not ended, goes through once they are gone, and leaves the
// province's certificates unable to sign or join, even once it is admitted
// again, which takes a new CA.
func TestRegistryExpel(t *testing.T) {
	// Usage errors are refused before any connection: no connection flags
	// are set, and the flag at fault is named.
	offline := &adminCLI{t: t, env: map[string]string{}}
	offline.fails("--province is required", "registry", "expel")
	offline.fails(`--province "3x" is not a 2-digit province code`, "registry", "expel", "--province", "3x")
	offline.fails("want no arguments", "registry", "expel", "33")

	c := regtest.NewCluster(t, 3, 0, nil)
	a11 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "11", "wang"))
	a51 := newAdminCLI(t, c, c.Nodes[1], c.PKI.Admin(t, "51", "zhang"))
	a33 := newAdminCLI(t, c, c.Nodes[2], c.PKI.Admin(t, "33", "zhao"))
	ca33 := filepath.Join(t.TempDir(), "ca33.pem")
	if err := os.WriteFile(ca33, c.PKI.Member(t, "33").CACerts, 0o644); err != nil {
		t.Fatal(err)
	}

	a51.fails("only admins of the steward provinces [11]", "registry", "expel", "--province", "44")
	a11.fails("province 11 is a steward province", "registry", "expel", "--province", "11")
	a11.fails("province 33 is not a member", "registry", "expel", "--province", "33")

	// Zhejiang joins with a node and an agreement with Sichuan.
	a11.ok("province 33 (Zhejiang) admitted", "registry", "admit", "--province", "33", "--ca-cert", ca33)
	c.WaitConverged()
	gw := c.AddNode("33", "gw-4")
	c.Start(gw)
	c.Join(gw)
	now := time.Now()
	pact := strings.NewReplacer("%FROM%", registry.DayOf(now.AddDate(0, 0, -1)).String(), "%UNTIL%", registry.DayOf(now.AddDate(1, 0, 0)).String(),
		"AG-51-44-2026-001", "AG-51-33-2026-001", `"440000"`, `"330000"`).Replace(pactYAML)
	file := filepath.Join(t.TempDir(), "pact-33.yaml")
	if err := os.WriteFile(file, []byte(pact), 0o644); err != nil {
		t.Fatal(err)
	}
	a51.ok("needs the approval of provinces 51 and 33", "agreement", "propose", "-f", file)

	code, _, errOut := a11.run("registry", "expel", "--province", "33")
	for _, want := range []string{"still has nodes in the registry: p33/node/gw-4", "laborlink registry remove NODE-ID",
		"not terminated: AG-51-33-2026-001 (proposed)", "laborlink agreement terminate ID"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("expel with a node and an agreement left: exit %d, stderr %q does not contain %q", code, errOut, want)
		}
	}
	a33.ok("p33/node/gw-4: removed", "registry", "remove", gw.ID)
	c.Stop(gw)
	a11.fails("not terminated: AG-51-33-2026-001 (proposed)", "registry", "expel", "--province", "33")
	a33.ok("terminated; now terminated", "agreement", "terminate", "AG-51-33-2026-001", "--reason", "Zhejiang leaves")
	a11.ok("province 33 (Zhejiang) removed from the federation", "registry", "expel", "--province", "33")
	c.WaitConverged()
	for _, n := range c.Running() {
		if n.Reg.Store().IsMember("33") {
			t.Fatalf("33 is still a member on %s", n.ID)
		}
	}
	if out := a11.ok("PROVINCE", "registry", "members", "--consistent"); strings.Contains(out, "Zhejiang") {
		t.Errorf("members still lists Zhejiang:\n%s", out)
	}

	// Its admins sign nothing any more, and its nodes cannot join: the
	// handshake refuses the certificates of its retired CA.
	lost := c.PKI.Issue(t, "33", pki.KindSystem, "laptop")
	a33.refused("registry", "revoke", lost.CertFile)
	rejoin := c.AddNode("33", "gw-5")
	c.Start(rejoin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rejoin.Reg.Join(ctx, c.Nodes[0].Config.APIAddr); err == nil || !refusedAtHandshake(err.Error()) {
		t.Errorf("a node of the removed province joins: %v, want refused at the handshake", err)
	}
	c.Stop(rejoin)

	// Its CA is retired: admitted again, it needs a new one, whose admins
	// sign; those of the old CA do not.
	a11.fails("has the key of a CA retired when province 33 was removed", "registry", "admit", "--province", "33", "--ca-cert", ca33)
	newCA := c.PKI.NewCA(t, "33")
	ca33 = filepath.Join(t.TempDir(), "ca33-2.pem")
	if err := os.WriteFile(ca33, regtest.MemberWith("33", newCA).CACerts, 0o644); err != nil {
		t.Fatal(err)
	}
	a11.ok("province 33 (Zhejiang) admitted", "registry", "admit", "--province", "33", "--ca-cert", ca33)
	c.WaitConverged()
	a33.refused("registry", "revoke", lost.CertFile)
	qian := newAdminCLI(t, c, c.Nodes[2], c.PKI.AdminFrom(t, newCA, "qian"))
	qian.ok("revoked in the registry", "registry", "revoke", lost.CertFile)
}

// TestRegistryBackupKeepsAnExistingBackup: a backup over an existing file
// is refused before the node is dialled, naming --force: the last backup
// may be the only copy from before a wrong command applied everywhere.
func TestRegistryBackupKeepsAnExistingBackup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "registry-backup.json")
	const good = `{"v":1,"the":"good backup"}`
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "", "registry", "backup", file, "--node", "https://127.0.0.1:1")
	if code != 2 || !strings.Contains(errOut, "--force") || !strings.Contains(errOut, file) {
		t.Errorf("registry backup over an existing file: exit %d, stderr %q; want exit 2 naming the file and --force", code, errOut)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != good {
		t.Errorf("the existing backup now holds %q, %v", b, err)
	}
}

// TestRegistryBackupIsOnDiskBeforeItSaysSo: "backed up" was printed with
// the backup neither synced nor named durably in its directory, and a
// crash could lose the only copy from before a wrong command. A backup
// that cannot be synced is reported as failed, leaves no file of its own,
// and does not replace, even with --force, the backup already there.
func TestRegistryBackupIsOnDiskBeforeItSaysSo(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	a11 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "11", "chen"))
	errSync := errors.New("injected sync failure")
	for _, tc := range []struct {
		name string
		old  string // the backup already there, "" for none
		args []string
	}{
		{"new file", "", nil},
		{"over an existing backup", `{"v":1,"the":"good backup"}`, []string{"--force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "registry-backup.json")
			if tc.old != "" {
				if err := os.WriteFile(file, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			restore := durable.SetSyncForTest(func(*os.File) error { return errSync })
			code, out, errOut := a11.run(append([]string{"registry", "backup", file}, tc.args...)...)
			restore()
			if code == 0 || strings.Contains(out, "backed up") || !strings.Contains(errOut, "backup to "+file) || !strings.Contains(errOut, errSync.Error()) {
				t.Errorf("with syncs failing: exit %d, stdout %q, stderr %q; want a failure naming the file and the sync's error", code, out, errOut)
			}
			var names []string
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if tc.old == "" && len(names) != 0 || tc.old != "" && len(names) != 1 {
				t.Errorf("the backup's directory holds %q", names)
			}
			if tc.old != "" {
				if b, err := os.ReadFile(file); err != nil || string(b) != tc.old {
					t.Errorf("the existing backup now holds %.60q..., %v", b, err)
				}
			}
		})
	}
}

// TestRegistryRevokeByFileTakesItsProvince: the registry keys a revocation
// by the province of the certificate revoked. A province CA's file, which
// the operator guide revokes in the registry after the root revoked it,
// was refused as "a serial" without --province, its province being read
// from a leaf's identity only; and a --province other than the file's
// revoked nothing while the command said every node refused it.
func TestRegistryRevokeByFileTakesItsProvince(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.Nodes[0]
	a11 := newAdminCLI(t, c, n, c.PKI.Admin(t, "11", "chen"))

	lost := c.PKI.Issue(t, "44", pki.KindSystem, "laptop")
	a11.fails("is a certificate of province 44", "registry", "revoke", lost.CertFile, "--province", "11")
	if n.Reg.IsRevoked(lost.Cert) {
		t.Fatal("the refused revocation revoked the certificate")
	}

	ca33, err := c.PKI.Fed.CA("33")
	if err != nil {
		t.Fatal(err)
	}
	a11.ok("of province 33 revoked in the registry", "registry", "revoke", filepath.Join(ca33.Dir, pki.CACertFile), "--reason", "cACompromise")
	if !n.Reg.IsRevoked(ca33.Cert) {
		t.Error("the province CA revoked by file is not revoked in the registry")
	}

	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, c.PKI.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	a11.fails("names no province", "registry", "revoke", root)
}

// TestNodeProvinceRefusedWhereNothingChecksIt: --node-province is checked
// by the commands that read a node's local API only. A registry or
// agreement command, which any node answers, took it, a mistyped one too,
// and ignored it; so did audit reconcile --a --b, which checks each node
// against its own province. The registry's commands do not define it.
func TestNodeProvinceRefusedWhereNothingChecksIt(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	a11 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "11", "chen"))
	for _, args := range [][]string{
		{"registry", "members", "--node-province", "44"},
		{"agreement", "list", "--node-province", "4x"},
	} {
		a11.fails("flag provided but not defined: -node-province", args...)
	}
	a11.ok("PROVINCE", "registry", "members")

	code, _, errOut := a11.run("audit", "reconcile", "--a", "51", "--b", "44", "--a-node", "https://127.0.0.1:1", "--b-node", "https://127.0.0.1:2", "--node-province", "51")
	if code != 2 || !strings.Contains(errOut, "leave out --node-province") {
		t.Errorf("audit reconcile --a --b --node-province: exit %d, stderr %q; want exit 2 naming --node-province", code, errOut)
	}
}

// TestAgreementTerminateVersionSaysWithdrawn: terminating a pending
// amendment by number withdraws it alone, and the version in force goes
// on; the command said "terminated" all the same.
func TestAgreementTerminateVersionSaysWithdrawn(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	a51 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "51", "zhang"))
	a44 := newAdminCLI(t, c, c.Nodes[0], c.PKI.Admin(t, "44", "li"))
	now := time.Now()
	pact := strings.NewReplacer("%FROM%", registry.DayOf(now.AddDate(0, 0, -1)).String(), "%UNTIL%", registry.DayOf(now.AddDate(1, 0, 0)).String()).Replace(pactYAML)
	dir := t.TempDir()
	file, amended := filepath.Join(dir, "pact.yaml"), filepath.Join(dir, "pact-v2.yaml")
	if err := os.WriteFile(file, []byte(pact), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(amended, []byte(strings.Replace(pact, "title: 川粤劳务协作协议", "title: 川粤劳务协作协议（修订）", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "AG-51-44-2026-001"
	a51.ok("proposed", "agreement", "propose", "-f", file)
	a51.ok("approved", "agreement", "approve", id)
	a44.ok("approved; now active", "agreement", "approve", id)
	a51.ok("version 2 proposed", "agreement", "amend", id, "-f", amended)

	out := a44.ok("now active (version 1)", "agreement", "terminate", id, "--version", "2")
	if !strings.Contains(out, "version 2 withdrawn") || strings.Contains(out, "terminated") {
		t.Errorf("terminate --version of the pending amendment said %q; want it withdrawn, the agreement not terminated", out)
	}
	a44.ok("terminated; now terminated (version 1)", "agreement", "terminate", id)
}

// TestRegistryJoinChecksSeeds: registry join passed --seed on to the node
// unchecked, so a URL or a port-less name came back as the node's failure
// to reach it, after a round trip, naming no flag. The command now refuses
// such a seed itself. (From a review.)
func TestRegistryJoinChecksSeeds(t *testing.T) {
	conn := devConnFlags(t, "operator-ops", "https://127.0.0.1:1")
	for _, seed := range []string{"https://127.0.0.1:8443", "gw-1.p44.example", "127.0.0.1:0", ":8443"} {
		args := append([]string{"registry", "join", "--seed", seed}, conn...)
		code, _, errOut := run(t, "", args...)
		if code != 2 || !strings.Contains(errOut, "--seed") || strings.Contains(errOut, "127.0.0.1:1") {
			t.Errorf("registry join --seed %s: exit %d, stderr %q; want exit 2 naming --seed, before dialing the node", seed, code, errOut)
		}
	}
}
