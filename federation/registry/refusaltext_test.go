package registry_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestOlderOpsRefusalsAreStoredAsTheyWere: after a withdrawn amendment and
// a termination the agreement reads terminated, yet apply refuses a
// suspend, resume, approve or terminate of it in the very words the
// releases before that reading stored with the command's nonce ("it is
// withdrawn (version 2)"), so that every replica, of whichever release or
// replaying whichever log, keeps the same state. While version 1 is in
// force both readings name it. The messages are those the registry stored
// at the parent of a95e9de, which made the reading skip withdrawn
// versions; they are read back from a restored backup, as a resubmission
// answers them.
func TestOlderOpsRefusalsAreStoredAsTheyWere(t *testing.T) {
	const id = "AG-51-44-903"
	f := newFixture(t)
	a2 := f.activate(t, id, "510000", "440300").Latest().Agreement
	a2.Status, a2.Approvals = "", nil
	a2.Title = "amended"
	v2 := f.must(t, f.a51, registry.OpAmendV1, a2).Agreement.Latest()
	f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: id, Version: 2, Reason: "withdraw v2"})
	approve := registry.TransitionBody{ID: id, Version: 2, Digest: v2.Digest}

	type refusal struct {
		name string
		by   *pki.Signer
		op   registry.Op
		body registry.TransitionBody
		want string
	}
	inForce := []refusal{
		{"approve", f.a51, registry.OpApprove, approve,
			"cannot approve agreement AG-51-44-903: it is active (version 1); only a proposed version can be approved"},
		{"resume", f.a44, registry.OpResume, registry.TransitionBody{ID: id},
			"cannot resume agreement AG-51-44-903: it is active (version 1); only a suspended agreement can be resumed"},
	}
	terminated := []refusal{
		{"suspend", f.a51, registry.OpSuspend, registry.TransitionBody{ID: id},
			"cannot suspend agreement AG-51-44-903: it is withdrawn (version 2); only an approved agreement in force can be suspended"},
		{"resume", f.a44, registry.OpResume, registry.TransitionBody{ID: id},
			"cannot resume agreement AG-51-44-903: it is withdrawn (version 2); only a suspended agreement can be resumed"},
		{"approve", f.a51, registry.OpApprove, approve,
			"cannot approve agreement AG-51-44-903: it is withdrawn (version 2); only a proposed version can be approved"},
		{"approve v1", f.a44, registry.OpApproveV1, approve,
			"cannot approve agreement AG-51-44-903: it is withdrawn (version 2); only a proposed version can be approved"},
		{"terminate", f.a51, registry.OpTerminate, registry.TransitionBody{ID: id, Reason: "again"},
			"cannot terminate agreement AG-51-44-903: it is withdrawn (version 2); it has already ended"},
	}
	var sent []*registry.Envelope
	refuse := func(t *testing.T, rs []refusal) {
		t.Helper()
		for _, r := range rs {
			t.Run(r.name, func(t *testing.T) {
				env := regtest.Signed(t, r.by, r.op, r.body, f.now)
				sent = append(sent, env)
				res := f.apply(env)
				if res.Err == nil || res.Err.Code != registry.EConflict || res.Err.Message != r.want {
					t.Errorf("%s refused with %+v, want %s %q", r.op, res.Err, registry.EConflict, r.want)
				}
			})
		}
	}
	t.Run("in force", func(t *testing.T) { refuse(t, inForce) })
	rec := f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: id, Reason: "end"}).Agreement
	if got := rec.StatusAt(f.now); got != contracts.AgreementTerminated {
		t.Fatalf("after terminate the agreement reads %q, want terminated", got)
	}
	t.Run("terminated", func(t *testing.T) { refuse(t, terminated) })

	var b bytes.Buffer
	if err := f.s.Backup(&b); err != nil {
		t.Fatal(err)
	}
	restored := registry.NewStore()
	if err := restored.Restore(&b); err != nil {
		t.Fatal(err)
	}
	stored := slices.Concat(inForce, terminated)
	for i, env := range sent {
		r := restored.Apply(f.index+uint64(i)+1, env)
		if want := stored[i].want; !r.Duplicate || r.Err == nil || r.Err.Message != want {
			t.Errorf("%s resubmitted: duplicate %v, %+v; want the stored refusal %q", env.Op, r.Duplicate, r.Err, want)
		}
	}
}
