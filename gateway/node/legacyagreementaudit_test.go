package node

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// An agreement registered under the older id rule (any printable ASCII),
// which apply keeps, is a party's agreement like any other: its
// transitions are audited on its parties' nodes, without the id the audit
// log refuses. Before, the pass failed, its watermark never moved, and no
// later registry event was audited on that node again. (From a review.)
func TestALegacyAgreementIDDoesNotStallTheRegistryAudit(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	n := singleNodeWith(t, p)
	ctx := context.Background()
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	// As a log written by an older leader holds it: straight into raft,
	// past checkBeforeLog (which an older release did not have).
	env := regtest.Signed(t, admin, registry.OpPropose, regtest.Agreement("AG/51-44/001", "510000", "440000", from, until), now)
	env.At = now.UTC()
	data, _ := json.Marshal(env)
	f := n.registry.Raft().Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if res, ok := f.Response().(*registry.Result); !ok || res.Err != nil {
		t.Fatalf("apply: %+v", f.Response())
	}
	if _, err := n.registry.Store().Agreement("AG/51-44/001"); err != nil {
		t.Fatalf("apply did not keep the legacy agreement: %v", err)
	}
	if err := n.auditRegistryOnce(ctx); err != nil {
		t.Errorf("registry audit pass with a legacy agreement id: %v", err)
	}
	// A later, unrelated event is audited.
	if _, err := n.registry.Submit(ctx, regtest.Signed(t, admin, registry.OpPropose, regtest.Agreement("AG-51-44-002", "510000", "440000", from, until), time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := n.auditRegistryOnce(ctx); err != nil {
		t.Errorf("second pass: %v", err)
	}
	es, _ := n.audit.Query(ctx, audit.Filter{Kind: audit.KindAgreement})
	found, legacy := false, false
	for _, e := range es {
		found = found || e.AgreementID == "AG-51-44-002"
		legacy = legacy || e.AgreementID == "" && e.RecordType == "agreement"
	}
	if !found || !legacy {
		t.Errorf("audited agreement entries %+v; want the later proposal's, and the legacy one's without its id", es)
	}
}

// TestAgreementDetailOfReplacedOps: a command an older release wrote, and
// a node of this release audits from the log (a node joining later, or
// one after a restore), gets the detail of the op that replaced it.
func TestAgreementDetailOfReplacedOps(t *testing.T) {
	for op, want := range map[registry.Op]audit.Detail{
		registry.OpAmendV1: audit.DetailAmended, registry.OpAmend: audit.DetailAmended,
		registry.OpApproveV1: audit.DetailApproved, registry.OpApprove: audit.DetailApproved,
	} {
		if got := agreementDetail(op); got != want {
			t.Errorf("agreementDetail(%s) = %q, want %q", op, got, want)
		}
	}
}
