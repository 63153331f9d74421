package node

import (
	"bytes"
	"context"
	"fmt"
	"slices"
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

// TestRevocationStampedEarlierThanTheLastAuditedIsAudited: a revocation's
// At is the raft leader's wall clock (registry.applyLocal), and leaders
// change between provinces' machines whose clocks differ. A revocation
// applied after one stamped by a leader whose clock ran ahead must still be
// audited: the audit follows revocations by index, and keeps the newest At
// (counterRevokedAt) only for those without one. The state here is that
// one: the first revocation audited as if stamped an hour ahead.
func TestRevocationStampedEarlierThanTheLastAuditedIsAudited(t *testing.T) {
	n, p := singleNode(t)
	ctx := context.Background()
	revoke := revoker(t, n, p)
	revoked := func(serial string) bool { return slices.Contains(revokedEntries(t, n), serial) }
	first := revoke("hr", 0)
	pkitest.Eventually(t, 15*time.Second, "first revocation audited", func() bool { return revoked(first) })
	// The previous leader's clock ran an hour ahead of this one's.
	if _, err := n.store.Increment(ctx, counterRevokedAt, uint64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	second := revoke("crm", 0)
	var passErr error
	pkitest.Eventually(t, 15*time.Second, "the revocation applied after another audited", func() bool {
		if passErr = n.auditRegistryOnce(ctx); passErr != nil {
			t.Logf("audit pass: %v", passErr)
		}
		return passErr == nil && revoked(second)
	})
}

// TestRevocationsWithoutIndexAfterAnUpgrade: the registry's state, read
// from a snapshot of a release before revocations had an index, holds
// revocations the node audited by their time and one it has not audited
// yet. The upgraded node audits that one and the revocation applied after,
// once each, and none of the others again.
func TestRevocationsWithoutIndexAfterAnUpgrade(t *testing.T) {
	n, p := singleNode(t)
	revoke := revoker(t, n, p)
	want := []string{revoke("hr", 1), revoke("crm", 1), revoke("payroll", 0)}
	st := n.registry.Store()
	restoreAsOlder(t, st, regtest.WithoutRevocationIndex)
	for _, r := range st.Revocations() {
		if r.Index != 0 {
			t.Fatalf("revocation of %s has index %d after the older snapshot", r.Serial, r.Index)
		}
	}
	auditPasses(t, n, 2)
	want = append(want, revoke("erp", 2))
	if got := revokedEntries(t, n); !slices.Equal(got, want) {
		t.Fatalf("revoked entries:\n got %q\nwant %q", got, want)
	}
}

// TestRestoredRevocationsAreNotAuditedAgain: a backup's revocations are
// rebased to the restore's index, like its issuances: the node does not
// audit them again, whatever watermark it kept, and audits the revocations
// applied after the restore, once each, also as the new log passes the
// backup's indices.
func TestRestoredRevocationsAreNotAuditedAgain(t *testing.T) {
	tests := []struct {
		name string
		// shift, kept and commands are those of
		// TestRegistryAuditGoesOnAfterARestore; the commands revoke.
		shift, kept, commands uint64
	}{
		{"a restore into the same cluster", 0, 0, 1},
		{"a node of the fresh cluster, the new log passing the backup's indices", 10, 0, 12},
		{"a node that kept its watermark of the backup's longer log", 5000, 5000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, p := singleNode(t)
			ctx := context.Background()
			revoke := revoker(t, n, p)
			want := []string{revoke("hr", 2)}
			var b bytes.Buffer
			if err := n.registry.Backup(ctx, &b); err != nil {
				t.Fatal(err)
			}
			want = append(want, revoke("crm", 2))
			if tt.kept != 0 {
				if err := n.store.RecordAnd(ctx, store.Progress{Counters: map[string]uint64{counterRegistryIndex: tt.kept}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.registry.Restore(ctx, bytes.NewReader(shiftBackup(t, b.Bytes(), tt.shift))); err != nil {
				t.Fatal(err)
			}
			auditPasses(t, n, 2)
			for i := range tt.commands {
				want = append(want, revoke(fmt.Sprint("payroll-", i), 1))
			}
			if got := revokedEntries(t, n); !slices.Equal(got, want) {
				t.Fatalf("revoked entries, restore at %d:\n got %q\nwant %q", n.registry.Store().RestoredAt(), got, want)
			}
		})
	}
}

// TestRevocationEntries: a revocation with an index is listed by it, in
// (after, upto], whatever its time; one without, by its time above the
// last audited.
func TestRevocationEntries(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) uint64 { return uint64(t0.Add(d).UnixNano()) }
	revocation := func(serial string, index uint64, at time.Duration) registry.Revocation {
		return registry.Revocation{RevokeBody: registry.RevokeBody{Serial: serial, Province: "51"}, Index: index, At: t0.Add(at)}
	}
	// Every case is judged after index 10, up to 20, and after time t0.
	tests := []struct {
		name     string
		r        registry.Revocation
		listed   bool
		newestAt uint64
	}{
		{"applied in the range", revocation("0a", 11, time.Minute), true, ns(time.Minute)},
		{"applied in the range, stamped before the last time audited", revocation("0b", 20, -time.Hour), true, ns(-time.Hour)},
		{"applied at the watermark", revocation("0c", 10, time.Hour), false, 0},
		{"applied after the applied index read", revocation("0d", 21, time.Hour), false, 0},
		{"no index, after the last time audited", revocation("0e", 0, time.Minute), true, ns(time.Minute)},
		{"no index, at the last time audited", revocation("0f", 0, 0), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, newest := revocationEntries([]registry.Revocation{tt.r}, 10, 20, ns(0))
			if listed := len(out) == 1; listed != tt.listed || newest != tt.newestAt {
				t.Fatalf("listed %v (%+v), newest %d; want listed %v, newest %d", listed, out, newest, tt.listed, tt.newestAt)
			}
			if tt.listed && (out[0].Serial != tt.r.Serial || out[0].Detail != audit.DetailRevoked || out[0].Origin != "51" || !out[0].Time.Equal(tt.r.At)) {
				t.Fatalf("entry %+v for %+v", out[0], tt.r)
			}
		})
	}
}

// revoker returns a function that revokes a new certificate of province 51
// named name, runs the registry audit passes times, and returns the serial
// as the audit log writes it.
func revoker(t *testing.T, n *Node, p *gatewaytest.PKI) func(name string, passes int) string {
	t.Helper()
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	return func(name string, passes int) string {
		t.Helper()
		c := p.Issue("51", pki.KindSystem, name)
		body := registry.RevokeBody{Serial: c.Cert.SerialNumber.Text(16), Province: "51", Reason: "keyCompromise"}
		res, err := n.registry.Submit(context.Background(), regtest.Signed(t, admin, registry.OpCertRevoke, body, time.Now()))
		if err != nil || res.Err != nil {
			t.Fatalf("revoke %s: %v, %v", name, err, res)
		}
		auditPasses(t, n, passes)
		return fmt.Sprintf("%x", c.Cert.SerialNumber.Bytes())
	}
}

// revokedEntries is the serials of n's revoked entries, in log order.
func revokedEntries(t *testing.T, n *Node) []string {
	t.Helper()
	var out []string
	for _, e := range certificateEntries(t, n) {
		if e.Detail == audit.DetailRevoked {
			out = append(out, e.Serial)
		}
	}
	return out
}
