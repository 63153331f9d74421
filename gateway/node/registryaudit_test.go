package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
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

// TestRegistryAuditGoesOnAfterARestore: a backup taken from a longer log
// holds agreement events and issuances at indices of that log. Restored,
// whatever watermark the node kept, it logs one entry that the registry was
// restored and audits exactly the transitions applied after the restore:
// none of the restored ones at once, none again as the new log passes
// their old indices, and every new one.
func TestRegistryAuditGoesOnAfterARestore(t *testing.T) {
	tests := []struct {
		name string
		// shift is how far the backup's log is ahead of this one.
		shift uint64
		// kept is the watermark the node holds at the restore: 0 keeps
		// the one of this cluster's log (a fresh cluster the backup is
		// restored into), else it is that of the backup's log, which the
		// node audited before (a node kept across the loss of a cluster).
		kept uint64
		// commands is how many the new log applies after the restore.
		commands uint64
	}{
		{"a node of the fresh cluster, the new log passing the backup's indices", 10, 0, 12},
		{"a node that kept its watermark of the backup's log", 5000, 5000, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gatewaytest.NewPKI(t, "51", "44")
			n := singleNodeWith(t, p)
			admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
			ctx := context.Background()
			submit := func(op registry.Op, body any) *registry.Result {
				t.Helper()
				res, err := n.registry.Submit(ctx, regtest.Signed(t, admin, op, body, time.Now()))
				if err != nil || res.Err != nil {
					t.Fatalf("%s: %v, %v", op, err, res)
				}
				if err := n.auditRegistryOnce(ctx); err != nil {
					t.Fatal(err)
				}
				return res
			}
			var serials []string
			issue := func(name string) {
				t.Helper()
				c := p.Issue("51", pki.KindSystem, name)
				submit(registry.OpCertIssued, registry.IssuedBody{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})})
				serials = append(serials, fmt.Sprintf("%x", c.Cert.SerialNumber.Bytes()))
			}
			now := time.Now()
			a := regtest.Agreement("AG-51-44-001", "510000", "440000", registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0)))
			v := submit(registry.OpPropose, a).Agreement.Latest()
			issue("hr")
			var b bytes.Buffer
			if err := n.registry.Backup(ctx, &b); err != nil {
				t.Fatal(err)
			}
			if tt.kept != 0 {
				if err := n.store.RecordAnd(ctx, store.Progress{Counters: map[string]uint64{counterRegistryIndex: tt.kept}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.registry.Restore(ctx, bytes.NewReader(shiftBackup(t, b.Bytes(), tt.shift))); err != nil {
				t.Fatal(err)
			}
			for range 2 { // a pass between the restore and the next command, and one more
				if err := n.auditRegistryOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Past the old indices of the restored events (when in reach),
			// then a transition.
			for i := range tt.commands {
				if i < 3 {
					issue(fmt.Sprint("payroll-", i))
				} else {
					submit(registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(fmt.Sprint(i))})
				}
			}
			submit(registry.OpApprove, registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest})

			es, err := n.audit.Query(ctx, audit.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				switch e.Kind {
				case audit.KindAgreement:
					got = append(got, string(e.Detail))
				case audit.KindCertificate:
					got = append(got, string(e.Detail)+" "+e.Serial)
				}
			}
			want := []string{string(audit.DetailProposed), "issued " + serials[0], string(audit.DetailRegistryRestored)}
			for _, s := range serials[1:] {
				want = append(want, "issued "+s)
			}
			want = append(want, string(audit.DetailApproved))
			if !slices.Equal(got, want) {
				t.Fatalf("registry entries, restore at %d, applied %d:\n got %q\nwant %q", n.registry.Store().RestoredAt(), n.registry.Store().AppliedIndex(), got, want)
			}
		})
	}
}

// shiftBackup is a registry backup as a log longer by shift would have
// taken it: its applied index and the indices of its agreement events,
// issuances, revocations and policy bundles higher by shift.
func shiftBackup(t *testing.T, backup []byte, shift uint64) []byte {
	t.Helper()
	type object = map[string]json.RawMessage
	decode := func(raw json.RawMessage, v any) {
		t.Helper()
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	encode := func(v any) json.RawMessage {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	add := func(o object, field string) {
		t.Helper()
		i, err := strconv.ParseUint(string(o[field]), 10, 64)
		if err != nil {
			t.Fatalf("%s %s: %v", field, o[field], err)
		}
		o[field] = json.RawMessage(strconv.FormatUint(i+shift, 10))
	}
	var doc, st object
	var ags, issued, revoked map[string]object
	var policies []object
	decode(backup, &doc)
	decode(doc["state"], &st)
	decode(st["agreements"], &ags)
	decode(st["issued"], &issued)
	decode(st["revoked"], &revoked)
	decode(st["policies"], &policies)
	add(doc, "applied")
	for _, a := range ags {
		var history []object
		decode(a["history"], &history)
		for _, ev := range history {
			add(ev, "index")
		}
		a["history"] = encode(history)
	}
	for _, is := range issued {
		add(is, "index")
	}
	for _, r := range revoked {
		add(r, "index")
	}
	for _, p := range policies {
		add(p, "index")
	}
	st["agreements"], st["issued"], st["revoked"], st["policies"] = encode(ags), encode(issued), encode(revoked), encode(policies)
	doc["state"] = encode(st)
	return encode(doc)
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

// TestPolicyBundlesAreAuditedByIndex: a restore to a registry with fewer
// policy bundles hands their version numbers out again. The bundles
// published after it are audited, once each, though the node audited
// those versions before; the restored ones are not audited again, whatever
// watermark the node kept.
func TestPolicyBundlesAreAuditedByIndex(t *testing.T) {
	tests := []struct {
		name string
		// shift and kept are those of TestRegistryAuditGoesOnAfterARestore.
		shift, kept uint64
	}{
		{"a restore into the same cluster", 0, 0},
		{"a node that kept its watermark of the backup's longer log", 5000, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, p := singleNode(t)
			admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
			ctx := context.Background()
			publish := func(content string) {
				t.Helper()
				res, err := n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(content)}, time.Now()))
				if err != nil || res.Err != nil {
					t.Fatalf("publish %q: %v, %v", content, err, res)
				}
				auditPasses(t, n, 2)
			}
			publish("package a")
			var b bytes.Buffer
			if err := n.registry.Backup(ctx, &b); err != nil {
				t.Fatal(err)
			}
			publish("package b")
			publish("package c")
			if tt.kept != 0 {
				if err := n.store.RecordAnd(ctx, store.Progress{Counters: map[string]uint64{counterRegistryIndex: tt.kept}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.registry.Restore(ctx, bytes.NewReader(shiftBackup(t, b.Bytes(), tt.shift))); err != nil {
				t.Fatal(err)
			}
			auditPasses(t, n, 2)
			publish("package b2")
			publish("package c2")

			want := []string{"v1 package a", "v2 package b", "v3 package c", "v2 package b2", "v3 package c2"}
			if got := bundleEntries(t, n, want); !slices.Equal(got, want) {
				t.Fatalf("federation bundle entries, restore at %d:\n got %q\nwant %q", n.registry.Store().RestoredAt(), got, want)
			}
		})
	}
}

// TestPolicyBundlesWithoutIndexAfterAnUpgrade: the registry's state, read
// from a snapshot of a release before bundles had an index, holds bundles
// the node audited by version and one it has not audited yet. The upgraded
// node audits that one and the bundles published after, once each, and
// none of the others again.
func TestPolicyBundlesWithoutIndexAfterAnUpgrade(t *testing.T) {
	n, p := singleNode(t)
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	ctx := context.Background()
	publish := func(content string, passes int) {
		t.Helper()
		res, err := n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(content)}, time.Now()))
		if err != nil || res.Err != nil {
			t.Fatalf("publish %q: %v, %v", content, err, res)
		}
		auditPasses(t, n, passes)
	}
	publish("package a", 1)
	publish("package b", 1)
	publish("package c", 0)
	st := n.registry.Store()
	restoreAsOlder(t, st, regtest.WithoutPolicyIndex)
	for _, p := range st.Policies() {
		if p.Index != 0 {
			t.Fatalf("bundle v%d has index %d after the older snapshot", p.Version, p.Index)
		}
	}
	auditPasses(t, n, 2)
	publish("package d", 2)

	want := []string{"v1 package a", "v2 package b", "v3 package c", "v4 package d"}
	if got := bundleEntries(t, n, want); !slices.Equal(got, want) {
		t.Fatalf("federation bundle entries:\n got %q\nwant %q", got, want)
	}
}

// auditPasses runs the registry audit k times.
func auditPasses(t *testing.T, n *Node, k int) {
	t.Helper()
	for range k {
		if err := n.auditRegistryOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// bundleEntries is the federation bundles in n's audit log, as "vN
// content" for the bundle contents of contents ("vN digest" for others).
func bundleEntries(t *testing.T, n *Node, contents []string) []string {
	t.Helper()
	names := map[string]string{}
	for _, c := range contents {
		_, content, _ := strings.Cut(c, " ")
		d := sha256.Sum256([]byte(content))
		names[short(hex.EncodeToString(d[:]))] = content
	}
	es, err := n.audit.Query(context.Background(), audit.Filter{Kind: audit.KindPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Detail != audit.DetailFederationBundle {
			continue
		}
		v, digest, _ := strings.Cut(e.Policy.Federation, ":")
		if c, ok := names[digest]; ok {
			digest = c
		}
		got = append(got, v+" "+digest)
	}
	return got
}

// TestARestoreAtAnIndexAnEarlierOneTookIsAudited: a node whose store holds
// the watermark of an earlier restore at the same index (a disaster
// recovery into another fresh cluster, whose log started alike) audits the
// new restore and what follows it: restores are told apart by their ids.
func TestARestoreAtAnIndexAnEarlierOneTookIsAudited(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	n := singleNodeWith(t, p)
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	ctx := context.Background()
	now := time.Now()
	a := regtest.Agreement("AG-51-44-001", "510000", "440000", registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0)))
	res, err := n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpPropose, a, time.Now()))
	if err != nil || res.Err != nil {
		t.Fatal(err, res)
	}
	v := res.Agreement.Latest()
	var b bytes.Buffer
	if err := n.registry.Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	at := n.registry.Raft().LastIndex() + 1
	// Left by earlier restores at the same index: one of an older release
	// (named by its index) and one of this release (by its id).
	earlier := map[string]uint64{watermarkCounter(at, ""): at + 100, watermarkCounter(at, "0123456789abcdef"): at + 100}
	if err := n.store.RecordAnd(ctx, store.Progress{Counters: earlier}, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.registry.Restore(ctx, bytes.NewReader(b.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, id := n.registry.Store().LastRestore(); got != at || len(id) != 16 {
		t.Fatalf("restored at %d with id %q; want %d and a 16-digit id", got, id, at)
	}
	res, err = n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpApprove, registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest}, time.Now()))
	if err != nil || res.Err != nil {
		t.Fatal(err, res)
	}
	if err := n.auditRegistryOnce(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := n.audit.Query(ctx, audit.Filter{Kind: audit.KindAgreement})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, string(e.Detail))
	}
	if want := []string{string(audit.DetailRegistryRestored), string(audit.DetailApproved)}; !slices.Equal(got, want) {
		t.Errorf("agreement entries after the restore: %q, want %q", got, want)
	}
}

// restoreAsOlder restores the registry's state from a backup of itself as
// an older release wrote it (older rewrites the backup so).
func restoreAsOlder(t *testing.T, st *registry.Store, older func(testing.TB, []byte) []byte) {
	t.Helper()
	var snap bytes.Buffer
	if err := st.Backup(&snap); err != nil {
		t.Fatal(err)
	}
	if err := st.Restore(bytes.NewReader(older(t, snap.Bytes()))); err != nil {
		t.Fatal(err)
	}
}
