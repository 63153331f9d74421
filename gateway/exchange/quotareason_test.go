package exchange

import (
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestQuotaUsedUpInTheCommitSaysWhich: a record the decision let through
// but whose quota the records before it in the submission used up is
// told which agreement's quota, of which records, stopped it, as the
// decision's own quota_reached says.
func TestQuotaUsedUpInTheCommitSaysWhich(t *testing.T) {
	f := newFederation(t, "51", "44")
	ag := f.agreement("51", "44", func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaMonth, Max: 1}}
	})
	g := f.generator("51", "44", 87)
	res := f.submit("51", g.Transfer(), g.Transfer())
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("first record = %+v", res[0])
	}
	r := res[1]
	if r.Outcome != OutcomeDenied || len(r.Reasons) != 1 || r.Reasons[0].Code != "quota_reached" {
		t.Fatalf("second record = %+v, want denied quota_reached", r)
	}
	if msg := r.Reasons[0].Message; !strings.Contains(msg, ag.ID+" v1") || !strings.Contains(msg, "transfer records") {
		t.Errorf("reason %q names neither agreement %s v1 nor the transfer records its quota counts", msg, ag.ID)
	}
}
