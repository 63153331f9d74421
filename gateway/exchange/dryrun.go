package exchange

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/pki"
)

// DryRun is what the export decision would be for a record, against the live
// registry and this node's policy, and the record exactly as it would cross.
type DryRun struct {
	Decision *policy.Decision `json:"decision"`
	// Record is the payload after the decision's obligations; empty when denied.
	Record json.RawMessage `json:"record,omitempty"`
	// Problems list invalid fields; no decision is made for an invalid record.
	Problems []contracts.FieldError `json:"problems,omitempty"`
}

// Evaluate decides a record's export without sending, storing or auditing
// anything: "would this cross, and what would be removed?" Quota counts are
// read, not incremented.
func (x *Exchange) Evaluate(ctx context.Context, caller pki.Identity, doc json.RawMessage) (DryRun, error) {
	if caller.Province != x.d.Province {
		return DryRun{}, Errorf(CodeForbidden, "%s may not dry-run records on the node of province %s", caller, x.d.Province)
	}
	if !x.registered() {
		return DryRun{}, errNoRegistry
	}
	now := x.d.Now().UTC()
	rec, err := contracts.Parse(doc, now)
	if err != nil {
		return DryRun{Problems: problems(err)}, nil
	}
	h := rec.Head()
	if h.From != x.d.Province {
		return DryRun{}, Errorf(CodeInvalid, "from is %s: this node exports records of province %s only", h.From, x.d.Province)
	}
	agreements, err := x.d.Agreements.Agreements(ctx, h.From, h.To, h.AgreementID)
	if err != nil {
		return DryRun{}, &Error{Code: CodeUnavailable, Message: "look up agreements", Err: err}
	}
	used, _ := x.quotaUsage(quotas(agreements, rec.Type(), now))
	dec, err := x.d.Policy.Decide(ctx, policy.Request{Side: policy.Export, Record: rec, Peer: caller.URI(), Agreements: agreements, QuotaUsed: used, Time: now})
	if err != nil {
		return DryRun{}, &Error{Code: CodeInternal, Message: "export decision", Err: err}
	}
	out := DryRun{Decision: dec}
	if !dec.Allow {
		return out, nil
	}
	canonical, err := contracts.Canonical(rec)
	if err != nil {
		return DryRun{}, &Error{Code: CodeInternal, Message: "encode record", Err: err}
	}
	if out.Record, err = policy.Apply(canonical, dec.Obligations); err != nil {
		return DryRun{}, &Error{Code: CodeInternal, Message: fmt.Sprintf("apply obligations of %s", dec.Revisions), Err: err}
	}
	return out, nil
}

// Revisions are the policy layers in force on this node.
func (x *Exchange) Revisions() policy.Revisions { return x.d.Policy.Revisions() }
