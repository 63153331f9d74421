package exchange

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/peer"
)

// oddID is an agreement id of printable ASCII, which contracts once
// accepted, but not a token of the audit log. (From a reviewer's finding:
// every record under such an agreement failed its store commit, the audit
// entry with it, forever.)
const oddID = "AG/51-44/2026"

// A record under an agreement id outside the token alphabet is invalid
// as it is submitted, naming the field and the character, and does not
// fail the submission's other records, even when the registry holds such
// an agreement from before.
func TestSubmitAgreementIDOutsideTokensIsInvalid(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51", "44")
			f.agreement("51", "44")
			a := f.agreement("51", "44", func(a *contracts.Agreement) { a.ID = oddID })
			// The registry holds it from before: apply keeps the older rule.
			if err := a.Validate(); err != nil || contracts.CheckAgreementID(a.ID) == nil {
				t.Fatalf("agreement %q: Validate %v, CheckAgreementID nil; want it valid as stored and no id records may carry", oddID, err)
			}
			g := f.generator("51", "44", 7)
			good, odd := g.Transfer(), g.Transfer()
			odd.AgreementID = oddID
			n := f.nodes["51"]
			res, err := n.x.Submit(context.Background(), n.system, encode(t, good, odd))
			if err != nil {
				t.Fatalf("submission failed whole: %v", err)
			}
			if res[0].Outcome != OutcomeAccepted || find(n.auditEntries(t), audit.KindSent, res[0].EnvelopeID) == nil {
				t.Fatalf("good record: %+v, want accepted with its sent entry", res[0])
			}
			if res[1].Outcome != OutcomeInvalid || !slices.ContainsFunc(res[1].Problems, func(p contracts.FieldError) bool {
				return p.Path == "agreement_id" && strings.Contains(p.Message, "character 3 is '/'")
			}) {
				t.Fatalf("odd record: %+v, want invalid naming agreement_id and '/'", res[1])
			}
		})
	}
}

// A peer's envelope whose agreement id or record ids are not tokens is
// rejected on its own, final, without failing its batch, and its refusal
// is audited without the bad id; so is a referral whose status the audit
// log does not know (a newer or dishonest origin's), which the destination
// does not validate in full: its received entry could not be written, and
// it was deferred as this node's fault, for its origin to send for ever.
func TestReceiveIDsOutsideTokensRefusedAlone(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51", "44")
			f.agreement("51", "44")
			f.agreement("51", "44", func(a *contracts.Agreement) { a.ID = oddID })
			g := f.generator("51", "44", 7)
			good, oddAgreement, oddRecord := g.Transfer(), g.Transfer(), referralFrom(g, "51")
			oddAgreement.AgreementID = oddID
			oddRecord.Status = "escalated"
			envs := []*contracts.Envelope{f.signedBy("51", good), f.signedBy("51", oddAgreement), f.signedBy("51", oddRecord)}
			raw := make([]json.RawMessage, len(envs))
			for i, env := range envs {
				raw[i], _ = json.Marshal(env)
			}
			res, err := f.deliver("51", "44", raw...)
			if err != nil {
				t.Fatalf("delivery failed whole: %v", err)
			}
			want := []struct {
				status peer.Status
				reason string
			}{{peer.StatusStored, ""}, {peer.StatusRejected, ReasonMalformed}, {peer.StatusRejected, ReasonInvalidRecord}}
			for i, w := range want {
				if res[i].Status != w.status || w.reason != "" && !slices.Equal(res[i].Reasons, []string{w.reason}) {
					t.Errorf("envelope %d: %s %v, want %s %s", i, res[i].Status, res[i].Reasons, w.status, w.reason)
				}
			}
			es := f.nodes["44"].auditEntries(t)
			if find(es, audit.KindReceived, envs[0].ID) == nil {
				t.Error("no received entry for the good envelope")
			}
			for _, env := range envs[1:] {
				e := find(es, audit.KindDenied, env.ID)
				if e == nil {
					t.Fatalf("envelope %s refused but not audited", env.ID)
				}
				if e.Decision != audit.Deny || !slices.Equal(e.Reasons, []audit.Reason{audit.ReasonContractInvalid}) || e.Origin != "51" {
					t.Errorf("denied entry %+v, want deny, contract-invalid, origin 51", e)
				}
			}
			if e := find(es, audit.KindDenied, envs[1].ID); e.AgreementID != "" {
				t.Errorf("denied entry holds agreement id %q", e.AgreementID)
			}
			if e := find(es, audit.KindDenied, envs[2].ID); e.AgreementID != good.AgreementID {
				t.Errorf("denied entry of a bad referral status has agreement id %q, want %q", e.AgreementID, good.AgreementID)
			}
			if got := len(f.nodes["44"].inbox(t)); got != 1 {
				t.Errorf("44 stored %d envelopes, want the good one", got)
			}
		})
	}
}

// A peer naming an agreement id outside the tokens once had its refusal
// left out of the audit log (the entry failed validation, and only the
// operator's log said so): it is audited, without the id.
func TestRefusedImportWithOddAgreementIDIsAudited(t *testing.T) {
	f := newFederationWith(t, auditInStore, 0, "51", "44")
	f.agreement("51", "44")
	tr := f.generator("51", "44", 7).Transfer()
	tr.AgreementID = "NO/SUCH"
	env, err := contracts.NewEnvelope(tr, 1, f.now.Add(-2*LagWindow))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(f.sign("51", env))
	res, err := f.deliver("51", "44", raw)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != peer.StatusRejected {
		t.Fatalf("answered %+v, want rejected", res[0])
	}
	if find(f.nodes["44"].auditEntries(t), audit.KindDenied, env.ID) == nil {
		t.Fatalf("envelope %s answered %s but no denied entry in 44's audit log", env.ID, res[0].Status)
	}
}

// auditAlong never lets one entry fail the commit of the others: an entry
// with identifiers the log refuses is written without them, and one the
// log refuses even so is reported for its record alone.
func TestAuditAlongRefusesEntriesOneByOne(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51", "44")
			n := f.nodes["51"]
			entry := func(agreement string, rt string) audit.Entry {
				return audit.Entry{Kind: audit.KindSent, EnvelopeID: "01J0000000000000000000000A", RecordType: rt,
					Origin: "51", Destination: "44", AgreementID: agreement, Decision: audit.Allow}
			}
			in := []audit.Entry{entry("AG-1", "transfer"), entry(oddID, "transfer"), entry("AG-1", "no_such_type")}
			along, es, bad := n.x.auditAlong(func(i int) audit.Entry { return in[i] }, len(in))
			if along != nil || len(bad) != 3 || bad[0] != nil || bad[1] != nil || bad[2] == nil {
				t.Fatalf("bad = %v, want the third entry alone", bad)
			}
			if es[0].AgreementID != "AG-1" || es[1].AgreementID != "" {
				t.Fatalf("entries %+v, want the odd agreement id cleared", es[:2])
			}
			along, es, bad = n.x.auditAlong(func(i int) audit.Entry { return es[i] }, 2)
			if bad != nil || (along == nil) != (mode != auditInStore) {
				t.Fatalf("second call: bad %v, along %v", bad, along != nil)
			}
			before := len(n.auditEntries(t))
			if along != nil {
				err := n.store.DB().Update(func(tx *bolt.Tx) error { return along(tx, func(int) bool { return true }) })
				if err != nil {
					t.Fatal(err)
				}
			} else {
				n.x.audit(context.Background(), es...)
			}
			if got := len(n.auditEntries(t)) - before; got != 2 {
				t.Fatalf("%d entries written, want 2", got)
			}
		})
	}
}
