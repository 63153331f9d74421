package node

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestCertificateIssuanceAndRevocationAreAudited records an issuance and a
// revocation in the registry: the node's audit log shows both, once each,
// with the serial and never the certificate's identity.
func TestCertificateIssuanceAndRevocationAreAudited(t *testing.T) {
	n, p := singleNode(t)
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	system := p.Issue("51", pki.KindSystem, "hr")
	ctx := context.Background()
	issued := registry.IssuedBody{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: system.Cert.Raw})}
	for _, c := range []struct {
		op   registry.Op
		body any
	}{
		{registry.OpCertIssued, issued},
		{registry.OpCertRevoke, registry.RevokeBody{Serial: system.Cert.SerialNumber.Text(16), Province: "51", Reason: "keyCompromise"}},
	} {
		if _, err := n.registry.Submit(ctx, regtest.Signed(t, admin, c.op, c.body, time.Now())); err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
	}
	serial := fmt.Sprintf("%x", system.Cert.SerialNumber.Bytes())
	var es []audit.Entry
	pkitest.Eventually(t, 15*time.Second, "issuance and revocation entries", func() bool {
		var err error
		es, err = n.audit.Query(ctx, audit.Filter{Kind: audit.KindCertificate})
		return err == nil && len(es) == 2
	})
	got := map[audit.Detail]audit.Entry{}
	for _, e := range es {
		got[e.Detail] = e
	}
	for _, d := range []audit.Detail{audit.DetailIssued, audit.DetailRevoked} {
		if e, ok := got[d]; !ok || e.Serial != serial || e.Origin != "51" || e.Peer != "" {
			t.Errorf("%s entry: %+v (want serial %s of 51, no identity)", d, e, serial)
		}
	}
	// Later passes add nothing: each registry event is audited once.
	if err := n.auditRegistryOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := n.audit.Query(ctx, audit.Filter{Kind: audit.KindCertificate}); len(again) != 2 {
		t.Fatalf("%d certificate entries after more passes, want 2: %+v", len(again), again)
	}
}

// TestRegistryAuditGoesOnAfterARestore: the audit watermark is the
// registry's applied index. A backup taken from a longer log (its applied
// index far ahead of this registry's) is restored; a certificate issued
// afterwards must still be audited, so the watermark must not have jumped
// to the backup's index.
func TestRegistryAuditGoesOnAfterARestore(t *testing.T) {
	n, p := singleNode(t)
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	ctx := context.Background()
	issue := func(name string) {
		t.Helper()
		c := p.Issue("51", pki.KindSystem, name)
		body := registry.IssuedBody{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})}
		if _, err := n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpCertIssued, body, time.Now())); err != nil {
			t.Fatalf("issue %s: %v", name, err)
		}
		if err := n.auditRegistryOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	issued := func() int {
		t.Helper()
		es, err := n.audit.Query(ctx, audit.Filter{Kind: audit.KindCertificate})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	issue("hr")
	var b bytes.Buffer
	if err := n.registry.Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["applied"] = json.RawMessage("100000")
	longer, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.registry.Restore(ctx, bytes.NewReader(longer)); err != nil {
		t.Fatal(err)
	}
	if err := n.auditRegistryOnce(ctx); err != nil { // a pass between the restore and the next command
		t.Fatal(err)
	}
	issue("payroll")
	if got := issued(); got != 2 {
		t.Fatalf("%d issuance entries after the restore and a second issuance, want 2 (registry applied index %d)", got, n.registry.Store().AppliedIndex())
	}
}

// TestProvincePolicyChangesAreAudited: the province policy in force at
// start is audited once, a change of the directory's files is audited with
// the new revision, and a restart on the same revision adds nothing.
func TestProvincePolicyChangesAreAudited(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "province.rego"), []byte("package laborlink.province\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	p := gatewaytest.NewPKI(t, "51")
	var cfg Config
	n := singleNodeWith(t, p, func(c *Config) { c.Policy.ProvinceDir, c.Policy.Reload = dir, 50*time.Millisecond; cfg = *c })
	ctx := context.Background()
	policyEntries := func(want int) []audit.Entry {
		t.Helper()
		var es []audit.Entry
		pkitest.Eventually(t, 15*time.Second, fmt.Sprintf("%d province policy entries", want), func() bool {
			var err error
			es, err = n.audit.Query(ctx, audit.Filter{Kind: audit.KindPolicy})
			return err == nil && len(es) == want
		})
		return es
	}
	first := n.policy.Revisions().Province
	if es := policyEntries(1); es[0].Policy.Province != first || es[0].Detail != audit.DetailProvincePolicy || es[0].Origin != "51" {
		t.Fatalf("entry at start: %+v, want province-policy %s of 51", es[0], first)
	}

	write("\ndeny contains \"no-night-transfers\" if false\n")
	es := policyEntries(2)
	if second := n.policy.Revisions().Province; second == first || es[1].Policy.Province != second {
		t.Fatalf("entry after the change: %+v; revisions %s then %s", es[1], first, second)
	}

	// The same files after a restart: nothing new.
	n.Close()
	n, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.auditProvincePolicy(ctx); err != nil {
		t.Fatal(err)
	}
	if es, _ := n.audit.Query(ctx, audit.Filter{Kind: audit.KindPolicy}); len(es) != 2 {
		t.Fatalf("%d policy entries after a restart on the same policy, want 2", len(es))
	}
}
