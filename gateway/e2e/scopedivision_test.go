package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestAnAgreementThatWouldStrandItsRecordsCarriesNone: an agreement whose
// origin party is a prefecture and whose transfer rule leaves out
// worker.household_division is refused by the registry when proposed,
// naming the rule's fields and the field. One an older release's leader
// let into the log, and both parties approved, is in force; before, 51
// accepted a transfer under it, dropped the household, and 44 rejected it
// for good (division_not_covered): a dead letter behind an "accepted". Now
// 51 denies it at submission, division_not_crossing, and 44 never sees it,
// while a transfer under the corridor's own agreement, beside it in the
// batch, is delivered.
func TestAnAgreementThatWouldStrandItsRecordsCarriesNone(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	g := f.gens["44"]
	good, stranded := g.Transfer(), g.Transfer()
	a := f.strandingAgreement(ctx, good.AgreementID, stranded.Worker.HouseholdDivision[:4]+"00")

	cl51 := f.registryClient("51")
	_, err := cl51.Submit(ctx, registry.OpPropose, a)
	if registry.ErrorCode(err) != registry.EInvalid || !strings.Contains(err.Error(), `scope[0].fields: leaves out "worker.household_division"`) {
		t.Fatalf("the proposal: %v; want it refused, naming scope[0].fields and worker.household_division", err)
	}

	f.appendAsOlderRelease(cl51, registry.OpPropose, a)
	for _, p := range []string{"51", "44"} {
		cl := f.registryClient(p)
		r, err := cl.Agreement(ctx, a.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		v := r.Data.Pending()
		f.appendAsOlderRelease(cl, registry.OpApprove, registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest})
	}
	for _, p := range f.Provinces {
		cl := f.registryClient(p)
		gatewaytest.Eventually(t, a.ID+" in force at "+p, func() bool {
			r, err := cl.Agreement(ctx, a.ID, false)
			return err == nil && r.Data.StatusAt(time.Now()) == contracts.AgreementActive
		})
	}

	stranded.AgreementID = a.ID
	res := f.submit("51", good, stranded)
	if res[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("the transfer under the corridor's agreement: %+v", res[0])
	}
	d := res[1]
	if d.Outcome != exchange.OutcomeDenied || !slices.Equal(reasonCodes(d.Reasons), []string{policy.ReasonDivisionNotCrossing}) {
		t.Fatalf("the transfer under %s: %+v; want denied for %s alone", a.ID, d, policy.ReasonDivisionNotCrossing)
	}
	if m := d.Reasons[0].Message; !strings.Contains(m, a.ID) || !strings.Contains(m, "worker.household_division") {
		t.Errorf("reason %q names neither the agreement nor the field", m)
	}
	v, err := f.system("51").Record(ctx, d.EnvelopeID)
	if err != nil || v.State != store.StateDenied {
		t.Errorf("51's record of the denied transfer: %+v, %v; want %s", v, err, store.StateDenied)
	}
	denials, err := f.client("51", f.Certs["51"].Auditor).AuditEntries(ctx, url.Values{"kind": {string(audit.KindDenied)}})
	if err != nil || !slices.ContainsFunc(denials, func(e audit.Entry) bool {
		return e.EnvelopeID == d.EnvelopeID && slices.Equal(e.Reasons, []audit.Reason{audit.ReasonFieldNotAllowed})
	}) {
		t.Errorf("51's audit log holds no denial of %s for %s: %+v, %v", d.EnvelopeID, audit.ReasonFieldNotAllowed, denials, err)
	}

	f.waitArrived("44", res[0].EnvelopeID)
	if n := countRecord(t, f.inboxAfter("44", 0), stranded.ID); n != 0 {
		t.Errorf("44's inbox holds the denied transfer %d times", n)
	}
}

// strandingAgreement is a copy of the corridor's agreement (sample) under
// a new id, whose origin party is prefecture and whose transfer rule
// leaves out worker.household_division.
func (f *federation) strandingAgreement(ctx context.Context, sample, prefecture string) contracts.Agreement {
	f.t.Helper()
	r, err := f.registryClient("51").Agreement(ctx, sample, false)
	if err != nil {
		f.t.Fatal(err)
	}
	a := r.Data.Effective().Agreement
	a.ID, a.Version, a.Status, a.Approvals = "AG-51-44-2026-090", 1, "", nil
	a.Origin.Division = prefecture
	rule := a.Rule(contracts.RecordTransfer)
	rule.Fields = slices.DeleteFunc(slices.Clone(rule.Fields), func(p string) bool { return p == "worker.household_division" })
	return a
}

// registryClient is a registry client of province's node acting as its admin.
func (f *federation) registryClient(province string) *registry.Client {
	f.t.Helper()
	cl, err := f.RegistryClient(province)
	if err != nil {
		f.t.Fatal(err)
	}
	return cl
}

// appendAsOlderRelease signs a command as cl's admin and puts it into the
// registry's log as a leader of an older release did: straight into raft
// on the leader, past the checks this release makes before the log.
func (f *federation) appendAsOlderRelease(cl *registry.Client, op registry.Op, body any) {
	f.t.Helper()
	env, err := registry.NewEnvelope(op, body)
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now()
	if err := env.Sign(cl.Signer, now); err != nil {
		f.t.Fatal(err)
	}
	env.At = now.UTC()
	data, err := json.Marshal(env)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, n := range f.Nodes {
		r := n.Registry().Raft()
		if r.State() != raft.Leader {
			continue
		}
		fut := r.Apply(data, 10*time.Second)
		if err := fut.Error(); err != nil {
			f.t.Fatalf("%s: %v", op, err)
		}
		if res, ok := fut.Response().(*registry.Result); !ok || res.Err != nil {
			f.t.Fatalf("%s: %+v", op, fut.Response())
		}
		return
	}
	f.t.Fatal("no node leads the registry")
}
