package registry_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// fixture is a store initialized for provinces 51, 44 and 11, with admins
// of each and of 33, whose province CA exists but is not a member.
type fixture struct {
	p                  *regtest.PKI
	s                  *registry.Store
	a51, a44, a11, a33 *pki.Signer
	now                time.Time
	index              uint64
	// log is every command applied, as stamped, for a replay.
	log []registry.Envelope
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	p := regtest.NewPKI(t, "51", "44", "11", "33")
	f := &fixture{p: p, s: registry.NewStore(), now: time.Now()}
	f.a51 = p.Signer(t, "51", pki.KindAdmin, "zhang")
	f.a44 = p.Signer(t, "44", pki.KindAdmin, "li")
	f.a11 = p.Signer(t, "11", pki.KindAdmin, "wang")
	f.a33 = p.Signer(t, "33", pki.KindAdmin, "zhao")
	g := p.Genesis(t, []registry.NodeSpec{{ID: "p11/node/gw-1", RaftAddr: "127.0.0.1:1"}}, "51", "44", "11")
	env, _ := registry.NewEnvelope(registry.OpInit, g)
	if r := f.apply(env); r.Err != nil {
		t.Fatalf("init: %v", r.Err)
	}
	return f
}

// apply stamps the command as the leader would and applies it.
func (f *fixture) apply(env *registry.Envelope) *registry.Result {
	f.index++
	env.At = f.now
	f.log = append(f.log, *env)
	return f.s.Apply(f.index, env)
}

// replay applies the fixture's log to a new store, as a node catching up
// from the raft log would.
func (f *fixture) replay(t *testing.T) *registry.Store {
	t.Helper()
	s := registry.NewStore()
	for i := range f.log {
		env := f.log[i]
		s.Apply(uint64(i+1), &env)
	}
	return s
}

func (f *fixture) do(t testing.TB, s *pki.Signer, op registry.Op, body any) *registry.Result {
	t.Helper()
	return f.apply(regtest.Signed(t, s, op, body, f.now))
}

func (f *fixture) must(t testing.TB, s *pki.Signer, op registry.Op, body any) *registry.Result {
	t.Helper()
	r := f.do(t, s, op, body)
	if r.Err != nil {
		t.Fatalf("%s by %s: %v", op, s.Identity(), r.Err)
	}
	return r
}

func wantErr(t *testing.T, r *registry.Result, code registry.Code, msg string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("applied, want error %s %q", code, msg)
	}
	if r.Err.Code != code || !strings.Contains(r.Err.Message, msg) {
		t.Fatalf("error %s %q, want %s containing %q", r.Err.Code, r.Err.Message, code, msg)
	}
}

func days(now time.Time, from, until int) (contracts.Date, contracts.Date) {
	return registry.DayOf(now.AddDate(0, 0, from)), registry.DayOf(now.AddDate(0, 0, until))
}

// activate proposes and approves an agreement between origin and dest.
func (f *fixture) activate(t *testing.T, id, origin, dest string) *registry.AgreementRecord {
	t.Helper()
	from, until := days(f.now, -1, 365)
	a := regtest.Agreement(id, origin, dest, from, until)
	r := f.must(t, f.a51, registry.OpPropose, a)
	v := r.Agreement.Latest()
	body := registry.TransitionBody{ID: id, Version: v.Agreement.Version, Digest: v.Digest}
	f.must(t, f.a51, registry.OpApprove, body)
	return f.must(t, f.a44, registry.OpApprove, body).Agreement
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	from, until := days(f.now, -1, 365)
	a := regtest.Agreement("AG-51-44-001", "510000", "440300", from, until)
	r := f.must(t, f.a51, registry.OpPropose, a)
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementProposed {
		t.Fatalf("after propose: %s", got)
	}
	v := r.Agreement.Latest()
	approve := registry.TransitionBody{ID: a.ID, Version: 1, Digest: v.Digest}

	wantErr(t, f.do(t, f.a11, registry.OpApprove, approve), registry.EForbidden, "province 11 is not a party")
	wantErr(t, f.do(t, f.a33, registry.OpApprove, approve), registry.EForbidden, "not a member")
	wantErr(t, f.do(t, f.a51, registry.OpApprove, registry.TransitionBody{ID: "AG-nope", Version: 1}), registry.ENotFound, `unknown agreement "AG-nope"`)
	wantErr(t, f.do(t, f.a51, registry.OpApprove, registry.TransitionBody{ID: a.ID, Version: 1, Digest: "00"}), registry.EInvalid, "digest")
	wantErr(t, f.do(t, f.a51, registry.OpSuspend, registry.TransitionBody{ID: a.ID}), registry.EConflict, "it is proposed")

	f.must(t, f.a51, registry.OpApprove, approve)
	wantErr(t, f.do(t, f.a51, registry.OpApprove, approve), registry.EConflict, "already approved by province 51")
	if n := len(f.s.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now)); n != 0 {
		t.Fatalf("covered before both parties approved: %d matches", n)
	}
	r = f.must(t, f.a44, registry.OpApprove, approve)
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementActive {
		t.Fatalf("after both approvals: %s", got)
	}
	covers := func() int {
		return len(f.s.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now))
	}
	if covers() != 1 {
		t.Fatalf("active agreement does not cover a county-to-district transfer")
	}

	f.must(t, f.a44, registry.OpSuspend, registry.TransitionBody{ID: a.ID, Reason: "audit"})
	if covers() != 0 {
		t.Fatal("suspended agreement still covers")
	}
	wantErr(t, f.do(t, f.a51, registry.OpResume, registry.TransitionBody{ID: a.ID}), registry.EConflict, "only the suspending party can resume")
	f.must(t, f.a44, registry.OpResume, registry.TransitionBody{ID: a.ID})
	if covers() != 1 {
		t.Fatal("resumed agreement does not cover")
	}

	// An amendment is proposed while version 1 stays in force.
	a2 := a
	a2.Title = "amended"
	a2.ValidUntil = registry.DayOf(f.now.AddDate(0, 0, 700))
	r = f.must(t, f.a44, registry.OpAmend, a2)
	if len(r.Agreement.Versions) != 2 || r.Agreement.StatusAt(f.now) != contracts.AgreementActive {
		t.Fatalf("after amend: %d versions, status %s", len(r.Agreement.Versions), r.Agreement.StatusAt(f.now))
	}
	if m := f.s.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now); len(m) != 1 || m[0].Version != 1 {
		t.Fatalf("version 1 should cover while version 2 is pending: %+v", m)
	}
	wantErr(t, f.do(t, f.a51, registry.OpAmend, a2), registry.EConflict, "still awaiting approval")
	v2 := registry.TransitionBody{ID: a.ID, Version: 2, Digest: r.Agreement.Latest().Digest}
	f.must(t, f.a51, registry.OpApprove, v2)
	r = f.must(t, f.a44, registry.OpApprove, v2)
	if got := r.Agreement.Versions[0].Agreement.Status; got != registry.StatusSuperseded {
		t.Fatalf("version 1 after version 2 approved: %s", got)
	}
	if m := f.s.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now); len(m) != 1 || m[0].Version != 2 {
		t.Fatalf("version 2 should cover: %+v", m)
	}

	r = f.must(t, f.a51, registry.OpTerminate, registry.TransitionBody{ID: a.ID, Reason: "ended"})
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementTerminated {
		t.Fatalf("after terminate: %s", got)
	}
	wantErr(t, f.do(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: a.ID}), registry.EConflict, "it is terminated")
	if covers() != 0 {
		t.Fatal("terminated agreement still covers")
	}
	var ops []string
	for _, e := range r.Agreement.History {
		ops = append(ops, fmt.Sprintf("%s/v%d", e.Op, e.Version))
	}
	want := "agreement.propose/v1 agreement.approve.v2/v1 agreement.approve.v2/v1 agreement.suspend/v1 agreement.resume/v1 agreement.amend.v2/v2 agreement.approve.v2/v2 agreement.approve.v2/v2 agreement.terminate/v2"
	if got := strings.Join(ops, " "); got != want {
		t.Fatalf("history:\n got %s\nwant %s", got, want)
	}
}

func TestDatesDeriveStatus(t *testing.T) {
	f := newFixture(t)
	rec := f.activate(t, "AG-1", "511300", "440000")
	tests := []struct {
		at   time.Time
		want contracts.AgreementStatus
		n    int
	}{
		{f.now.AddDate(0, 0, -3), contracts.AgreementApproved, 0},
		{f.now, contracts.AgreementActive, 1},
		{f.now.AddDate(0, 0, 400), contracts.AgreementExpired, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.want), func(t *testing.T) {
			if got := rec.StatusAt(tt.at); got != tt.want {
				t.Errorf("status %s, want %s", got, tt.want)
			}
			if n := len(f.s.Covers("511321", "440300", contracts.RecordTransfer, contracts.PurposeStatistics, tt.at)); n != tt.n {
				t.Errorf("%d matches, want %d", n, tt.n)
			}
		})
	}
}

func TestCoversDivisions(t *testing.T) {
	f := newFixture(t)
	f.activate(t, "AG-P", "510000", "440000")
	f.activate(t, "AG-C", "511321", "440300")
	tests := []struct {
		origin, dest string
		rt           contracts.RecordType
		p            contracts.Purpose
		want         string
	}{
		{"511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, "AG-C AG-P"},
		{"511322", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, "AG-P"},
		{"51", "44", contracts.RecordTransfer, contracts.PurposeEmploymentService, "AG-P"},
		{"440305", "511321", contracts.RecordTransfer, contracts.PurposeEmploymentService, ""},
		{"511321", "440305", contracts.RecordTransfer, contracts.PurposeRightsProtection, ""},
		{"511321", "440305", contracts.RecordConfirmation, contracts.PurposeEmploymentConfirmation, "AG-C AG-P"},
		{"521321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, ""},
	}
	for _, tt := range tests {
		t.Run(tt.origin+"-"+tt.dest+"-"+string(tt.p), func(t *testing.T) {
			var ids []string
			for _, m := range f.s.Covers(tt.origin, tt.dest, tt.rt, tt.p, f.now) {
				ids = append(ids, m.AgreementID)
				if m.Rule.RecordType != tt.rt {
					t.Errorf("rule for %s, want %s", m.Rule.RecordType, tt.rt)
				}
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("covered by %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommandChecks(t *testing.T) {
	f := newFixture(t)
	from, until := days(f.now, 0, 30)
	a := regtest.Agreement("AG-X", "510000", "440000", from, until)

	tampered := regtest.Signed(t, f.a51, registry.OpPropose, a, f.now)
	tampered.Body = bytes.Replace(tampered.Body, []byte("AG-X"), []byte("AG-Y"), 1)
	wantErr(t, f.apply(tampered), registry.EUnauthenticated, "signature invalid")

	old := regtest.Signed(t, f.a51, registry.OpPropose, a, f.now.Add(-time.Hour))
	wantErr(t, f.apply(old), registry.EInvalid, "check the signer's clock")

	node := f.p.Signer(t, "51", pki.KindNode, "gw-9")
	wantErr(t, f.do(t, node, registry.OpPropose, a), registry.EForbidden, "needs a admin certificate")

	wantErr(t, f.do(t, f.a11, registry.OpPropose, a), registry.EForbidden, "not a party")
	bad := a
	bad.Scope = nil
	wantErr(t, f.do(t, f.a51, registry.OpPropose, bad), registry.EInvalid, "scope")

	env := regtest.Signed(t, f.a51, registry.OpPropose, a, f.now)
	first := f.apply(env)
	again := f.apply(env)
	if first.Err != nil || !again.Duplicate || again.Index != first.Index {
		t.Fatalf("resubmission: first %+v, again %+v", first.Err, again)
	}
	wantErr(t, f.do(t, f.a51, registry.OpPropose, a), registry.EConflict, "already exists")

	// A revoked admin certificate no longer signs.
	serial := f.a44.Chain()[0].SerialNumber
	f.must(t, f.a44, registry.OpCertRevoke, registry.RevokeBody{Serial: serial.Text(16), Province: "44", Reason: "key lost"})
	if !f.s.IsRevoked("44", serial) || f.s.IsRevoked("51", serial) {
		t.Fatal("IsRevoked does not list the revoked serial")
	}
	rec, _ := f.s.Agreement("AG-X")
	wantErr(t, f.do(t, f.a44, registry.OpApprove, registry.TransitionBody{ID: "AG-X", Version: 1, Digest: rec.Latest().Digest}), registry.EUnauthenticated, "revoked")
	wantErr(t, f.do(t, f.a51, registry.OpCertRevoke, registry.RevokeBody{Serial: "abc", Province: "44"}), registry.EForbidden, "cannot revoke")
}

// TestRevokeOfNoProvinceAppliesAsItDid: a cert.revoke naming no province,
// or no province code, revokes nothing, since revocations are kept by the
// province of the certificate revoked; the leader refuses it before the log
// (TestTheLeaderRefusesARevokeOfNoProvince). Apply records the ones the log
// holds as the releases that let them in did, so that a replica replaying
// such a log reaches the state the others recorded.
func TestRevokeOfNoProvinceAppliesAsItDid(t *testing.T) {
	f := newFixture(t)
	for serial, prov := range map[string]string{"1f2e3d": "", "1f2e3e": "5x"} {
		f.must(t, f.a11, registry.OpCertRevoke, registry.RevokeBody{Serial: serial, Province: prov})
	}
	got, replayed := f.s.Revocations(), f.replay(t).Revocations()
	if len(got) != 2 || len(replayed) != 2 || got[0].Province != replayed[0].Province || got[1].Province != replayed[1].Province {
		t.Fatalf("revocations recorded %+v, replayed %+v; want both, as older releases recorded them", got, replayed)
	}
}

// TestRevokingAgainAppliesAsItDid: the leader refuses a cert.revoke of a
// serial revoked already (TestRevokingARevokedSerialAgainIsRefused), but
// a log may hold one, let in by an older release: apply records it as the
// replicas that first applied it did, the second revocation replacing the
// first, so that a replica replaying the log reaches their state.
func TestRevokingAgainAppliesAsItDid(t *testing.T) {
	f := newFixture(t)
	f.must(t, f.a44, registry.OpCertRevoke, registry.RevokeBody{Serial: "1f2e3d", Province: "44", Reason: "keyCompromise"})
	f.now = f.now.Add(time.Minute)
	f.must(t, f.a11, registry.OpCertRevoke, registry.RevokeBody{Serial: "1f2e3d", Province: "44", Reason: "superseded"})
	want := registry.Revocation{RevokeBody: registry.RevokeBody{Serial: "1f2e3d", Province: "44", Reason: "superseded"},
		At: f.now, By: f.a11.Identity().URI(), Index: f.index}
	got, replayed := f.s.Revocations(), f.replay(t).Revocations()
	if len(got) != 1 || got[0] != want || len(replayed) != 1 || replayed[0] != want {
		t.Fatalf("revocations recorded %+v, replayed %+v; want %+v, as older releases recorded it", got, replayed, want)
	}
}

// TestNonceIsBoundToItsCommand: a command reusing another's nonce is
// refused, naming the nonce, rather than answered with the other command's
// outcome (which would report success for a command never applied, and
// show one signer what another's command produced). The command that holds
// the nonce still answers its outcome.
func TestNonceIsBoundToItsCommand(t *testing.T) {
	f := newFixture(t)
	from, until := days(f.now, 0, 30)
	first := regtest.Signed(t, f.a51, registry.OpPropose, regtest.Agreement("AG-N", "510000", "440000", from, until), f.now)
	applied := f.apply(first)
	if applied.Err != nil {
		t.Fatal(applied.Err)
	}
	reusing := func(s *pki.Signer, op registry.Op, body any) *registry.Envelope {
		env, err := registry.NewEnvelope(op, body)
		if err != nil {
			t.Fatal(err)
		}
		env.Nonce = first.Nonce
		if err := env.Sign(s, f.now); err != nil {
			t.Fatal(err)
		}
		return env
	}
	tests := []struct {
		name string
		env  *registry.Envelope
	}{
		{"another signer", reusing(f.a44, registry.OpPropose, regtest.Agreement("AG-O", "510000", "440000", from, until))},
		{"the same signer, another command", reusing(f.a51, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("p")})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.apply(tt.env)
			wantErr(t, r, registry.EConflict, fmt.Sprintf("nonce %q was used by another command", first.Nonce))
			if r.Duplicate || r.Agreement != nil {
				t.Fatalf("refused command answered with the first one's outcome: %+v", r)
			}
		})
	}
	if _, err := f.s.Agreement("AG-O"); err == nil {
		t.Fatal("the command reusing a nonce was applied")
	}
	again := f.apply(first)
	if again.Err != nil || !again.Duplicate || again.Index != applied.Index {
		t.Fatalf("resubmitting the command that holds the nonce: %+v", again)
	}
}

func TestMembersPoliciesNodes(t *testing.T) {
	f := newFixture(t)
	wantErr(t, f.do(t, f.a51, registry.OpMemberAdd, f.p.Member(t, "33")), registry.EForbidden, "steward")
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	if !f.s.IsMember("33") {
		t.Fatal("33 not a member after member.add")
	}
	from, until := days(f.now, 0, 30)
	f.must(t, f.a33, registry.OpPropose, regtest.Agreement("AG-33", "330000", "510000", from, until))

	r := f.must(t, f.a11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("package federation"), Note: "first"})
	if r.Policy.Version != 1 || f.s.Policy().Digest != r.Policy.Digest {
		t.Fatalf("policy: %+v", r.Policy)
	}
	if r.Policy.Index != f.index || r.Index != f.index {
		t.Fatalf("policy published by the command at %d (result at %d) has index %d", f.index, r.Index, r.Policy.Index)
	}

	node := f.p.Signer(t, "51", pki.KindNode, "gw-1")
	wantErr(t, f.do(t, node, registry.OpNodeJoin, registry.NodeSpec{ID: "p51/node/gw-2", RaftAddr: "x:1"}), registry.EForbidden, "its own identity")
	f.must(t, node, registry.OpNodeJoin, registry.NodeSpec{ID: "p51/node/gw-1", RaftAddr: "127.0.0.1:7000", APIAddr: "127.0.0.1:7001"})
	wantErr(t, f.do(t, f.a51, registry.OpNodePromote, registry.NodeRef{ID: "p51/node/gw-1"}), registry.EForbidden, "steward")
	f.must(t, f.a11, registry.OpNodePromote, registry.NodeRef{ID: "p51/node/gw-1"})
	if n, _ := f.s.Node("p51/node/gw-1"); !n.Voter {
		t.Fatal("node not a voter after promote")
	}
	f.must(t, f.a51, registry.OpNodeRemove, registry.NodeRef{ID: "p51/node/gw-1"})
	if _, ok := f.s.Node("p51/node/gw-1"); ok {
		t.Fatal("node still listed after remove")
	}
}

func TestBackupRestoreIsComplete(t *testing.T) {
	f := newFixture(t)
	f.activate(t, "AG-1", "510000", "440000")
	from, until := days(f.now, 0, 30)
	f.must(t, f.a44, registry.OpPropose, regtest.Agreement("AG-2", "511300", "440300", from, until))
	f.must(t, f.a11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("p")})
	f.must(t, f.a51, registry.OpCertRevoke, registry.RevokeBody{Serial: "0a1b", Province: "51"})
	f.must(t, f.a51, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(f.a51.Chain()[0])})

	var b1 bytes.Buffer
	if err := f.s.Backup(&b1); err != nil {
		t.Fatal(err)
	}
	s2 := registry.NewStore()
	if err := s2.Restore(bytes.NewReader(b1.Bytes())); err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := s2.Backup(&b2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatalf("restored state differs:\n%s\n%s", b1.String(), b2.String())
	}
	if s2.AppliedIndex() != f.s.AppliedIndex() || len(s2.Covers("51", "44", contracts.RecordTransfer, contracts.PurposeStatistics, f.now)) != 1 {
		t.Fatal("restored store lost its applied index or covers index")
	}
	n := new(big.Int)
	n.SetString("0a1b", 16)
	if !s2.IsRevoked("51", n) {
		t.Fatal("restored store lost revocations")
	}
	// The restored store goes on applying: a replayed nonce is still known.
	rec, _ := s2.Agreement("AG-2")
	env := regtest.Signed(t, f.a51, registry.OpApprove, registry.TransitionBody{ID: "AG-2", Version: 1, Digest: rec.Latest().Digest}, f.now)
	env.At = f.now
	if r := s2.Apply(f.index+1, env); r.Err != nil {
		t.Fatalf("apply after restore: %v", r.Err)
	}
}

// TestWithdrawPendingAmendment: terminating the pending version by number
// withdraws the amendment alone; the version in force goes on, and a new
// amendment may follow.
func TestWithdrawPendingAmendment(t *testing.T) {
	f := newFixture(t)
	rec := f.activate(t, "AG-W", "510000", "440000")
	a2 := rec.Latest().Agreement
	a2.Title = "amended"
	r := f.must(t, f.a44, registry.OpAmend, a2)
	if len(r.Agreement.Versions) != 2 {
		t.Fatalf("versions after amend: %d", len(r.Agreement.Versions))
	}
	r = f.must(t, f.a51, registry.OpTerminate, registry.TransitionBody{ID: "AG-W", Version: 2, Reason: "withdrawn"})
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementActive {
		t.Fatalf("after withdrawing v2 the agreement is %s, want active", got)
	}
	if v := r.Agreement.Versions[1].Agreement.Status; v != registry.StatusWithdrawn {
		t.Fatalf("v2 is %s, want withdrawn", v)
	}
	if m := f.s.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now); len(m) != 1 || m[0].Version != 1 {
		t.Fatalf("v1 should still cover: %+v", m)
	}
	a3 := a2
	a3.Title = "amended again"
	r = f.must(t, f.a51, registry.OpAmend, a3)
	if got := r.Agreement.Latest().Agreement.Version; got != 3 {
		t.Fatalf("a new amendment is version %d, want 3", got)
	}
	// Terminating without a version ends the agreement and its amendment.
	r = f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: "AG-W"})
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementTerminated {
		t.Fatalf("after terminate: %s", got)
	}
}

// withdrawnThenTerminated activates agreement id between 51 and 44, amends
// it by amend (version 2), withdraws the amendment and terminates the
// agreement; it returns the amendment's terms and the termination's result.
func (f *fixture) withdrawnThenTerminated(t *testing.T, id string, amend registry.Op) (contracts.Agreement, *registry.Result) {
	t.Helper()
	a2 := f.activate(t, id, "510000", "440300").Latest().Agreement
	a2.Status, a2.Approvals = "", nil
	a2.Title = "amended"
	f.must(t, f.a51, amend, a2)
	f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: a2.ID, Version: 2, Reason: "withdraw v2"})
	return a2, f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: a2.ID, Reason: "end"})
}

// TestTerminatedAfterAWithdrawnAmendmentIsFinal: an amendment is withdrawn
// (terminate --version 2), then the agreement is terminated. Termination is
// final: the record reads terminated, as list's status filter does, and an
// amendment (agreement.amend.v2) is refused, so no approval can bring the
// agreement back into force.
func TestTerminatedAfterAWithdrawnAmendmentIsFinal(t *testing.T) {
	f := newFixture(t)
	a2, r := f.withdrawnThenTerminated(t, "AG-51-44-901", registry.OpAmend)
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementTerminated {
		t.Errorf("after terminate: status %q, want terminated", got)
	}
	if l := f.s.List(registry.Filter{Status: contracts.AgreementTerminated}, f.now); len(l) != 1 {
		t.Errorf("agreement list --status terminated finds %d agreements, want 1", len(l))
	}
	a3 := a2
	a3.Title = "back again"
	r = f.do(t, f.a51, registry.OpAmend, a3)
	if r.Err == nil {
		v3 := r.Agreement.Latest()
		body := registry.TransitionBody{ID: a3.ID, Version: v3.Agreement.Version, Digest: v3.Digest}
		f.must(t, f.a51, registry.OpApprove, body)
		r = f.must(t, f.a44, registry.OpApprove, body)
		t.Fatalf("amend of a terminated agreement applied; after both approvals it is %q again, covering %d",
			r.Agreement.StatusAt(f.now), len(f.s.Covers("510000", "440300", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now)))
	}
	wantErr(t, r, registry.EConflict, "agreement AG-51-44-901 is terminated")
}

// TestAnOlderReleasesAmendAppliesAsItDid: agreement.amend, the amendment of
// releases before agreement.amend.v2, is applied from the log as those
// releases applied it: after a withdrawn amendment and a termination it
// amends the terminated agreement, whose newest version reads withdrawn,
// and two approvals bring it back into force. A replica replaying such a
// log must reach the state the others recorded; only the leader refuses to
// propose agreement.amend now.
func TestAnOlderReleasesAmendAppliesAsItDid(t *testing.T) {
	f := newFixture(t)
	a2, _ := f.withdrawnThenTerminated(t, "AG-51-44-902", registry.OpAmendV1)
	a3 := a2
	a3.Title = "back again"
	v3 := f.must(t, f.a51, registry.OpAmendV1, a3).Agreement.Latest()
	body := registry.TransitionBody{ID: a3.ID, Version: v3.Agreement.Version, Digest: v3.Digest}
	f.must(t, f.a51, registry.OpApproveV1, body)
	r := f.must(t, f.a44, registry.OpApproveV1, body)
	if got := r.Agreement.StatusAt(f.now); v3.Agreement.Version != 3 || got != contracts.AgreementActive {
		t.Fatalf("agreement.amend of the terminated agreement made version %d, %q after both approvals; want version 3 active, as older releases applied it", v3.Agreement.Version, got)
	}
	replayed, err := f.replay(t).Agreement(a3.ID)
	if err != nil || replayed.StatusAt(f.now) != contracts.AgreementActive || len(replayed.Versions) != 3 {
		t.Fatalf("replayed: %+v, %v; want version 3 active", replayed, err)
	}
}

// TestSuspensionOutlivesAmendment: province 44 suspends the version in
// force after approving an amendment; 51's approval then brings version 2
// into force, still suspended by 44, since only 44 may lift its
// suspension. 51 cannot resume it; 44 resumes version 2.
func TestSuspensionOutlivesAmendment(t *testing.T) {
	f := newFixture(t)
	approve := suspendedAmendment(t, f, "AG-S", registry.OpApprove)
	covers := func() []registry.Match {
		return f.s.Covers("510000", "440300", contracts.RecordTransfer, contracts.PurposeEmploymentService, f.now)
	}

	r := f.must(t, f.a51, registry.OpApprove, approve)
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementSuspended || len(covers()) != 0 {
		t.Fatalf("after 51 approved version 2 the agreement is %s and covers %+v; 44's suspension must hold", got, covers())
	}
	if cur := r.Agreement.Current(); cur.Agreement.Version != 2 || len(cur.SuspendedBy) != 1 || cur.SuspendedBy[0] != "44" {
		t.Fatalf("version in force %d, suspended by %v; want version 2 suspended by 44", cur.Agreement.Version, cur.SuspendedBy)
	}
	wantErr(t, f.do(t, f.a51, registry.OpResume, registry.TransitionBody{ID: "AG-S"}), registry.EConflict, "only the suspending party can resume")
	r = f.must(t, f.a44, registry.OpResume, registry.TransitionBody{ID: "AG-S", Version: 2})
	if got := r.Agreement.StatusAt(f.now); got != contracts.AgreementActive {
		t.Fatalf("after 44 resumed: %s", got)
	}
	if m := covers(); len(m) != 1 || m[0].Version != 2 {
		t.Fatalf("version 2 should cover once 44 resumed: %+v", m)
	}
}

// suspendedAmendment makes agreement id between 51 and 44 active, has 51
// amend it and 44 approve the amendment with op, then has 44 suspend the
// version in force; it returns the approval 51 has yet to give.
func suspendedAmendment(t *testing.T, f *fixture, id string, op registry.Op) registry.TransitionBody {
	t.Helper()
	rec := f.activate(t, id, "510000", "440300")
	a2 := rec.Latest().Agreement
	a2.Title = "amended"
	v2 := f.must(t, f.a51, registry.OpAmend, a2).Agreement.Latest()
	approve := registry.TransitionBody{ID: id, Version: v2.Agreement.Version, Digest: v2.Digest}
	f.must(t, f.a44, op, approve)
	f.must(t, f.a44, registry.OpSuspend, registry.TransitionBody{ID: id, Reason: "data breach"})
	return approve
}

// TestAnOlderReleasesApprovalAppliesAsItDid: agreement.approve, the approval
// of releases before agreement.approve.v2, is applied from the log as those
// releases applied it, lifting the suspension of the version it supersedes,
// so that a replica replaying an old log reaches the state the others
// recorded; only the leader refuses to propose it now.
func TestAnOlderReleasesApprovalAppliesAsItDid(t *testing.T) {
	f := newFixture(t)
	approve := suspendedAmendment(t, f, "AG-V1", registry.OpApproveV1)
	r := f.must(t, f.a51, registry.OpApproveV1, approve)
	if cur := r.Agreement.Current(); cur.Agreement.Version != 2 || len(cur.SuspendedBy) != 0 || r.Agreement.StatusAt(f.now) != contracts.AgreementActive {
		t.Fatalf("after agreement.approve of version 2: version %d in force, suspended by %v, %s; want version 2 active, as older releases applied it",
			cur.Agreement.Version, cur.SuspendedBy, r.Agreement.StatusAt(f.now))
	}
}

// TestProvinceCARotationThroughTheRegistry: after a province makes a new CA
// (signed by the same root), its admins with certificates from the new CA
// sign registry commands once a steward has registered the province's CA
// certificates again, old and new together for the overlap, and only then.
func TestProvinceCARotationThroughTheRegistry(t *testing.T) {
	f := newFixture(t)
	newCA := f.p.NewCA(t, "51")
	chen := pkitest.Signer(t, regtest.IssueFrom(t, newCA, pki.KindAdmin, "chen"))
	from, until := days(f.now, -1, 365)
	wantErr(t, f.do(t, chen, registry.OpPropose, regtest.Agreement("AG-NEW", "510000", "440000", from, until)), registry.EUnauthenticated, "signature invalid")

	old := f.p.Member(t, "51")
	both := old
	both.CACerts = append(append([]byte{}, old.CACerts...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newCA.Cert.Raw})...)
	addedAt := func() time.Time {
		for _, m := range f.s.Members() {
			if m.Province == "51" {
				return m.AddedAt
			}
		}
		t.Fatal("51 is not a member")
		return time.Time{}
	}
	added := addedAt()
	f.now = f.now.Add(time.Minute)
	f.must(t, f.a11, registry.OpMemberAdd, both)
	if got := addedAt(); !got.Equal(added) {
		t.Errorf("registering the CAs again moved the province's admission from %s to %s", added, got)
	}
	f.must(t, chen, registry.OpPropose, regtest.Agreement("AG-NEW", "510000", "440000", from, until))
	// The old CA's admins still sign during the overlap.
	f.must(t, f.a51, registry.OpPropose, regtest.Agreement("AG-OLD", "510000", "440000", from, until))
}

func TestCertificateIssuance(t *testing.T) {
	f := newFixture(t)
	node := f.p.Signer(t, "51", pki.KindNode, "gw-3")
	issued := registry.IssuedBody{Certificate: pemOf(node.Chain()[0])}
	f.must(t, f.a51, registry.OpCertIssued, issued)
	f.must(t, f.a51, registry.OpCertIssued, issued)
	got := f.s.Issuances()
	if len(got) != 1 {
		t.Fatalf("issuances after recording one certificate twice: %+v", got)
	}
	want := registry.Issuance{Serial: fmt.Sprintf("%x", node.Chain()[0].SerialNumber.Bytes()), Province: "51", Kind: pki.KindNode,
		Identity: node.Identity().URI(), NotAfter: node.Chain()[0].NotAfter.UTC(), Index: f.index - 1, At: f.now, By: f.a51.Identity().URI()}
	if got[0] != want {
		t.Fatalf("issuance %+v, want %+v", got[0], want)
	}

	wantErr(t, f.do(t, f.a44, registry.OpCertIssued, issued), registry.EForbidden, "cannot record certificates of province 51")
	wantErr(t, f.do(t, node, registry.OpCertIssued, issued), registry.EForbidden, "needs a admin certificate")
	wantErr(t, f.do(t, f.a51, registry.OpCertIssued, registry.IssuedBody{Certificate: []byte("not pem")}), registry.EInvalid, "no PEM certificate")
	stranger := f.p.Signer(t, "33", pki.KindNode, "gw-1")
	wantErr(t, f.do(t, f.a11, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(stranger.Chain()[0])}), registry.EInvalid, "not a member")

	// A certificate claiming province 51 that 51's CA never signed.
	forged := selfSigned(t, pki.Identity{Domain: f.s.Domain(), Province: "51", Kind: pki.KindNode, Name: "gw-x"})
	wantErr(t, f.do(t, f.a51, registry.OpCertIssued, registry.IssuedBody{Certificate: forged}), registry.EInvalid, "not signed by a CA certificate")
	if n := len(f.s.Issuances()); n != 1 {
		t.Fatalf("%d issuances after refused records, want 1", n)
	}
}

// TestIssuancesAreListedInLogOrder: issuances are listed oldest first by
// the log index they were applied at, not by their times: those are the
// clocks of the leaders that applied them, and a leader whose clock is
// behind stamps the later issuance earlier. (From a review of the
// registry.)
func TestIssuancesAreListedInLogOrder(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i, clock := range []time.Duration{0, -time.Minute, time.Minute, -2 * time.Minute} {
		f.now = f.now.Add(clock)
		node := f.p.Signer(t, "51", pki.KindNode, fmt.Sprint("gw-", i))
		f.must(t, f.a51, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(node.Chain()[0])})
		want = append(want, node.Identity().URI())
	}
	var got []string
	for _, is := range f.s.Issuances() {
		got = append(got, is.Identity)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("issuances listed\n%q\nwant them in the order applied\n%q", got, want)
	}
}

// TestRevocationsAreListedBySerialNumber: revocations are listed by serial
// as a number, as Revocations says, not as text: serials differ in length,
// and as text ff would come after 0a01. (From a review of the registry.)
func TestRevocationsAreListedBySerialNumber(t *testing.T) {
	f := newFixture(t)
	for _, serial := range []string{"0a01", "ff", "1", "10", "0f", "100"} {
		f.must(t, f.a51, registry.OpCertRevoke, registry.RevokeBody{Serial: serial, Province: "51"})
	}
	var got []string
	for _, r := range f.s.Revocations() {
		got = append(got, r.Serial)
	}
	// Stored as serialKey keeps them: whole bytes, so 0f and 0a01.
	if want := []string{"01", "0f", "10", "ff", "0100", "0a01"}; !slices.Equal(got, want) {
		t.Fatalf("revocations listed %q, want %q", got, want)
	}
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// selfSigned makes a certificate with id's SPIFFE URI signed by its own key.
func selfSigned(t *testing.T, id pki.Identity) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(id.URI())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: id.Name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
