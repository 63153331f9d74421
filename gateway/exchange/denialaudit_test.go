package exchange

import (
	"context"
	"errors"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// diesBeforeAppend is the node's audit log, in node.db, in a process that
// dies before any commit of the log's own: what is written in the store's
// commits is durable, what would be appended after them is lost.
type diesBeforeAppend struct{ TxAuditor }

func (diesBeforeAppend) Append(context.Context, audit.Entry) (int64, error) {
	return 0, errors.New("the process died before the audit log's own commit")
}

// TestDenialIsStoredWithItsAuditEntry: a denial the submitter can look
// up is a flow the audit log must hold. Written in the commit that
// stores the denial, the entry cannot be lost to a crash after that
// commit, leaving a denied record the log never saw: policy denials and
// those of a quota used up in the commit alike.
func TestDenialIsStoredWithItsAuditEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*contracts.Agreement)
		// submit returns the denied result.
		submit func(f *federation, g *synth.Generator) SubmitResult
	}{
		{"policy", func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended }, func(f *federation, g *synth.Generator) SubmitResult {
			return f.submit("51", g.Transfer())[0]
		}},
		{"quota", func(a *contracts.Agreement) {
			a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Max: 1, Period: contracts.QuotaTotal}}
		}, func(f *federation, g *synth.Generator) SubmitResult {
			// Two in one submission: the decision sees the quota free
			// for both, and the commit finds it used up by the first.
			return f.submit("51", g.Transfer(), g.Transfer())[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederationWith(t, auditInStore, 0, "51", "44")
			f.nodes["51"].stop()
			f.wrapAudit = func(a Auditor) Auditor { return diesBeforeAppend{a.(TxAuditor)} }
			f.nodes["51"] = f.start("51")
			f.wrapAudit = nil
			f.agreement("51", "44", tc.mutate)
			n := f.nodes["51"]

			res := tc.submit(f, f.generator("51", "44", 5))
			if res.Outcome != OutcomeDenied {
				t.Fatalf("submit = %+v, want denied", res)
			}
			st, err := n.store.Status(res.EnvelopeID)
			if err != nil || st.State != store.StateDenied {
				t.Fatalf("stored denial = %+v, %v", st, err)
			}
			if e := find(n.auditEntries(t), audit.KindDenied, res.EnvelopeID); e == nil {
				t.Errorf("denial %s is stored, but the audit log has no denied entry for it", res.EnvelopeID)
			}
		})
	}
}
