package registry_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

// TestAScopeThatStrandsItsRecordsIsNeverApproved: a prefecture party is
// checked against each transfer's worker.household_division at both ends,
// so an agreement version whose transfer scope leaves the field out would
// have its origin accept records its destination refuses for good. Its
// proposal and its amendment are refused before they enter the log, naming
// the scope's fields and the field; one an older release let into the log
// stays as apply took it, and may be terminated or withdrawn, but its
// approval is refused, saying how to replace it.
func TestAScopeThatStrandsItsRecordsIsNeverApproved(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	leader := c.Nodes[0]
	a51, a44 := c.PKI.Admin(t, "51", "zhang"), c.PKI.Admin(t, "44", "li")
	cl51, cl44 := c.Client(leader, a51), c.Client(leader, a44)
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	fitting := func(id string) contracts.Agreement { return regtest.Agreement(id, "511300", "440000", from, until) }
	stranding := func(id string) contracts.Agreement {
		a := fitting(id)
		a.Scope[0].Fields = []string{"worker.name", "worker.id_number", "placement"}
		return a
	}
	refused := func(t *testing.T, what string, err error, want ...string) {
		t.Helper()
		if registry.ErrorCode(err) != registry.EInvalid {
			t.Fatalf("%s: %v; want %s", what, err, registry.EInvalid)
		}
		for _, w := range append([]string{`scope[0].fields: leaves out "worker.household_division"`, "511300 is a prefecture"}, want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", what, err, w)
			}
		}
	}
	approve := func(t *testing.T, id string, v *registry.Version) error {
		t.Helper()
		_, err := cl51.Submit(ctx(t), registry.OpApprove, registry.TransitionBody{ID: id, Version: v.Agreement.Version, Digest: v.Digest})
		return err
	}

	t.Run("proposal", func(t *testing.T) {
		_, err := cl51.Submit(ctx(t), registry.OpPropose, stranding("AG-51-44-001"))
		refused(t, "the proposal", err, "propose agreement AG-51-44-001")
		if _, err := leader.Reg.Store().Agreement("AG-51-44-001"); err == nil {
			t.Error("the refused proposal was applied")
		}
	})

	t.Run("amendment", func(t *testing.T) {
		body := propose(t, cl51, fitting("AG-51-44-002"))
		for _, cl := range []*registry.Client{cl51, cl44} {
			if _, err := cl.Submit(ctx(t), registry.OpApprove, body); err != nil {
				t.Fatalf("approve the fitting version: %v", err)
			}
		}
		_, err := cl51.Submit(ctx(t), registry.OpAmend, stranding("AG-51-44-002"))
		refused(t, "the amendment", err, "amend agreement AG-51-44-002")
		rec, err := leader.Reg.Store().Agreement("AG-51-44-002")
		if err != nil || len(rec.Versions) != 1 {
			t.Errorf("after the refused amendment: %+v, %v; want version 1 alone", rec, err)
		}
	})

	t.Run("approval of a version from before", func(t *testing.T) {
		res := appendAsOlderRelease(t, leader.Reg, regtest.Signed(t, a51.Signer, registry.OpPropose, stranding("AG-51-44-003"), now))
		v := res.Agreement.Latest()
		refused(t, "its approval", approve(t, "AG-51-44-003", v), "cannot approve agreement AG-51-44-003 version 1",
			"Terminate it (laborlink agreement terminate AG-51-44-003)")
		rec, err := leader.Reg.Store().Agreement("AG-51-44-003")
		if err != nil || len(rec.Latest().Agreement.Approvals) != 0 {
			t.Fatalf("after the refused approval: %+v, %v; want no approval recorded", rec, err)
		}
		if _, err := cl51.Submit(ctx(t), registry.OpTerminate, registry.TransitionBody{ID: "AG-51-44-003"}); err != nil {
			t.Errorf("terminate it: %v", err)
		}
	})

	t.Run("approval of an amendment from before", func(t *testing.T) {
		res := appendAsOlderRelease(t, leader.Reg, regtest.Signed(t, a51.Signer, registry.OpAmend, stranding("AG-51-44-002"), now))
		v := res.Agreement.Latest()
		refused(t, "its approval", approve(t, "AG-51-44-002", v), "cannot approve agreement AG-51-44-002 version 2",
			"Withdraw it (laborlink agreement terminate AG-51-44-002 --version 2)")
		if _, err := cl51.Submit(ctx(t), registry.OpTerminate, registry.TransitionBody{ID: "AG-51-44-002", Version: 2}); err != nil {
			t.Errorf("withdraw it: %v", err)
		}
		rec, err := leader.Reg.Store().Agreement("AG-51-44-002")
		if err != nil || rec.Effective().Agreement.Version != 1 || rec.StatusAt(now) != contracts.AgreementActive {
			t.Errorf("after the withdrawal: %+v, %v; want version 1 in force", rec, err)
		}
	})

	// An approval naming a version that is not the one awaiting approval
	// is refused by apply for that: the advice to withdraw it with
	// terminate --version would end the agreement, the version being the
	// one in force.
	t.Run("approval of the version in force from before", func(t *testing.T) {
		const id = "AG-51-44-004"
		v := appendAsOlderRelease(t, leader.Reg, regtest.Signed(t, a51.Signer, registry.OpPropose, stranding(id), now)).Agreement.Latest()
		body := registry.TransitionBody{ID: id, Version: v.Agreement.Version, Digest: v.Digest}
		for _, a := range []*regtest.Admin{a51, a44} {
			appendAsOlderRelease(t, leader.Reg, regtest.Signed(t, a.Signer, registry.OpApprove, body, time.Now()))
		}
		err := approve(t, id, v)
		if registry.ErrorCode(err) != registry.EConflict || !strings.Contains(err.Error(), "cannot approve agreement "+id+": it is active (version 1); only a proposed version can be approved") {
			t.Errorf("approve the version in force: %v; want apply's refusal, %s", err, registry.EConflict)
		}
		if err != nil && strings.Contains(err.Error(), "terminate") {
			t.Errorf("approve the version in force: %v; it says to terminate the version in force", err)
		}
	})
}

// appendAsOlderRelease puts env into the log of r, the leader, as a leader
// of an older release did: straight into raft, past checkBeforeLog.
func appendAsOlderRelease(t *testing.T, r *registry.Registry, env *registry.Envelope) *registry.Result {
	t.Helper()
	env.At = time.Now().UTC()
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Raft().Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	res, ok := f.Response().(*registry.Result)
	if !ok || res.Err != nil {
		t.Fatalf("apply %s: %+v", env.Op, f.Response())
	}
	return res
}
