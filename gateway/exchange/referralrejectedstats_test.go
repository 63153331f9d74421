package exchange

import (
	"context"
	"maps"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestAuditStatsCountAReferralTheDestinationsNodeRejectedAsRejected: 44's
// node rejects 51's referral R as it arrives, and 51's next referral D
// becomes a dead letter (44 cannot be reached, and delivery gives up on
// it). At 51 the audit log tells the two apart: R's receipt is denied
// with detail rejected, D's denied with none, and 51's audit stats count
// R rejected, as its case is, and D referred, as its case stays (a
// requeue may yet deliver it). (From a known gap: stats counted R
// referred, since the log could not tell its rejection from a dead
// letter.)
func TestAuditStatsCountAReferralTheDestinationsNodeRejectedAsRejected(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) { testAuditStatsOfReferralsRefused(t, mode) })
	}
}

func testAuditStatsOfReferralsRefused(t *testing.T, mode auditMode) {
	ctx := context.Background()
	f := newFederationWith(t, mode, 0, "51", "44")
	a := f.agreement("51", "44")
	g := f.generator("51", "44", 97)
	origin := f.nodes["51"]
	rejected := f.rejectedByDestsNode(a, referralFrom(g, "51"))

	f.dir.set("44", "https://127.0.0.1:1") // 51 cannot reach 44
	res := f.submit("51", referralFrom(g, "51"))
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("51's referral D: %+v", res[0])
	}
	dead := res[0].EnvelopeID
	// As the delivery worker gives up on it: through the outbox, which
	// audits it.
	if err := origin.x.Outbox().MarkDead(ctx, "44", []store.DeadLetter{{EnvelopeID: dead, Status: 400, Reason: "refused", At: f.now}}); err != nil {
		t.Fatal(err)
	}

	receipt := func(id string) *audit.Entry { return find(origin.auditEntries(t), audit.KindReceipt, id) }
	gatewaytest.Eventually(t, "R's receipt in 51's audit log", func() bool { return receipt(rejected) != nil })
	if e := receipt(rejected); e.Decision != audit.Deny || e.Detail != audit.DetailRejected {
		t.Errorf("R's receipt at 51: %+v; want denied, detail rejected", e)
	}
	if e := receipt(dead); e == nil || e.Decision != audit.Deny || e.Detail != "" {
		t.Errorf("D's receipt at 51: %+v; want denied, no detail", e)
	}
	s, err := origin.audit.Stats(ctx, audit.Filter{}, f.now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[audit.Detail]int{audit.DetailRejected: 1, audit.DetailReferred: 1}
	if !maps.Equal(s.Referrals.ByStatus, want) {
		t.Errorf("51's referrals by status: %v; want %v (R rejected, D referred)", s.Referrals.ByStatus, want)
	}
	checkAuditClean(t, origin)
}
