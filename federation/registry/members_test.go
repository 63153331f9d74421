package registry_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
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

func TestMemberRemoveRefusals(t *testing.T) {
	f := newFixture(t)
	node := f.p.Signer(t, "11", pki.KindNode, "gw-1")
	tests := []struct {
		name     string
		by       *pki.Signer
		province string
		code     registry.Code
		msg      string
	}{
		{"not a steward", f.a51, "44", registry.EForbidden, "only admins of the steward provinces [11]"},
		{"not an admin", node, "44", registry.EForbidden, "needs a admin certificate"},
		{"unknown code", f.a11, "99", registry.EInvalid, `member.expel: unknown province code "99"`},
		{"empty code", f.a11, "", registry.EInvalid, `unknown province code ""`},
		{"not a member", f.a11, "33", registry.ENotFound, "province 33 is not a member"},
		{"steward", f.a11, "11", registry.EForbidden, "province 11 is a steward province"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, f.do(t, tt.by, registry.OpMemberExpel, registry.MemberRef{Province: tt.province}), tt.code, tt.msg)
		})
	}
	wantErr(t, f.do(t, f.a11, registry.OpMemberExpel, json.RawMessage(`{"province": 44}`)), registry.EInvalid, "member.expel: malformed body")
	if got := memberCodes(f.s); got != "11 44 51" {
		t.Fatalf("members after refused removals: %s", got)
	}
}

// TestMemberLeavesInOrder: a province is removed only once its nodes are
// removed and its agreements terminated; its certificates then sign
// nothing, its history stays, and it may be admitted again with a new CA.
func TestMemberLeavesInOrder(t *testing.T) {
	f := newFixture(t)
	remove33 := registry.MemberRef{Province: "33"}
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	firstAdmission := f.now

	gw1 := f.p.Signer(t, "33", pki.KindNode, "gw-1")
	gw2 := f.p.Signer(t, "33", pki.KindNode, "gw-2")
	f.must(t, gw2, registry.OpNodeJoin, registry.NodeSpec{ID: "p33/node/gw-2", RaftAddr: "127.0.0.1:7002"})
	f.must(t, gw1, registry.OpNodeJoin, registry.NodeSpec{ID: "p33/node/gw-1", RaftAddr: "127.0.0.1:7001"})

	from, until := days(f.now, -1, 365)
	r := f.must(t, f.a33, registry.OpPropose, regtest.Agreement("AG-33-A", "330000", "510000", from, until))
	approve := registry.TransitionBody{ID: "AG-33-A", Version: 1, Digest: r.Agreement.Latest().Digest}
	f.must(t, f.a33, registry.OpApprove, approve)
	f.must(t, f.a51, registry.OpApprove, approve)
	f.must(t, f.a51, registry.OpPropose, regtest.Agreement("AG-33-P", "510000", "330000", from, until))
	past, ended := days(f.now, -30, -2)
	f.must(t, f.a33, registry.OpPropose, regtest.Agreement("AG-33-E", "330000", "440000", past, ended))
	f.must(t, f.a33, registry.OpPropose, regtest.Agreement("AG-33-T", "330000", "440000", from, until))
	f.must(t, f.a44, registry.OpTerminate, registry.TransitionBody{ID: "AG-33-T"})
	f.activate(t, "AG-51-44", "510000", "440000")

	f.must(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: "0abc", Province: "33", Reason: "keyCompromise"})
	f.must(t, f.a33, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(gw1.Chain()[0])})

	r = f.do(t, f.a11, registry.OpMemberExpel, remove33)
	wantErr(t, r, registry.EConflict, "province 33 still has nodes in the registry: p33/node/gw-1, p33/node/gw-2; remove them first (laborlink registry remove NODE-ID)")
	wantErr(t, r, registry.EConflict, "NODE-ID). It is a party to agreements that are not terminated: AG-33-A (active), AG-33-E (expired), AG-33-P (proposed); terminate them first (laborlink agreement terminate ID)")
	for _, other := range []string{"AG-33-T", "AG-51-44"} {
		if strings.Contains(r.Err.Message, other) {
			t.Errorf("the refusal names %s, which is no reason to refuse: %s", other, r.Err.Message)
		}
	}

	f.must(t, f.a33, registry.OpNodeRemove, registry.NodeRef{ID: "p33/node/gw-1"})
	f.must(t, f.a11, registry.OpNodeRemove, registry.NodeRef{ID: "p33/node/gw-2"})
	r = f.do(t, f.a11, registry.OpMemberExpel, remove33)
	wantErr(t, r, registry.EConflict, "member.expel: province 33 is a party to agreements that are not terminated: AG-33-A (active), AG-33-E (expired), AG-33-P (proposed)")
	if strings.Contains(r.Err.Message, "nodes") {
		t.Errorf("the refusal still names nodes after they were removed: %s", r.Err.Message)
	}

	f.must(t, f.a33, registry.OpTerminate, registry.TransitionBody{ID: "AG-33-A", Reason: "province 33 leaves"})
	f.must(t, f.a51, registry.OpTerminate, registry.TransitionBody{ID: "AG-33-P"})
	f.must(t, f.a33, registry.OpTerminate, registry.TransitionBody{ID: "AG-33-E"})
	f.now = f.now.Add(time.Minute)
	f.must(t, f.a11, registry.OpMemberExpel, remove33)

	if f.s.IsMember("33") || memberCodes(f.s) != "11 44 51" {
		t.Fatalf("after removal: member 33 %v, members %s", f.s.IsMember("33"), memberCodes(f.s))
	}
	wantErr(t, f.do(t, f.a11, registry.OpMemberExpel, remove33), registry.ENotFound, "province 33 is not a member")

	// Its certificates sign nothing: admins, nodes joining, records.
	wantErr(t, f.do(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: "0def", Province: "33"}), registry.EForbidden, "province 33 of p33/admin/zhao is not a member")
	wantErr(t, f.do(t, gw1, registry.OpNodeJoin, registry.NodeSpec{ID: "p33/node/gw-1", RaftAddr: "127.0.0.1:7001"}), registry.EForbidden, "province 33 of p33/node/gw-1 is not a member")
	wantErr(t, f.do(t, f.a11, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(gw2.Chain()[0])}), registry.EInvalid, "province 33 of p33/node/gw-2 is not a member")
	wantErr(t, f.do(t, f.a51, registry.OpPropose, regtest.Agreement("AG-33-NEW", "510000", "330000", from, until)), registry.EForbidden, "party province 33 is not a member")

	// Its history stays: revocations, issuances, ended agreements.
	if !f.s.IsRevoked("33", big.NewInt(0xabc)) {
		t.Error("the removed province's revocation was dropped")
	}
	if is := f.s.Issuances(); len(is) != 1 || is[0].Province != "33" {
		t.Errorf("issuances after removal: %+v", is)
	}
	if rec, err := f.s.Agreement("AG-33-A"); err != nil || rec.StatusAt(f.now) != contracts.AgreementTerminated {
		t.Errorf("AG-33-A after removal: %v", err)
	}
	if n := len(f.s.Covers("510000", "440000", contracts.RecordTransfer, contracts.PurposeStatistics, f.now)); n != 1 {
		t.Errorf("AG-51-44 covers %d after 33 left, want 1", n)
	}

	// A snapshot restore and a replay of the log reach the same state.
	want, back := backup(t, f.s), restored(t, f.s)
	if got := backup(t, back); !bytes.Equal(got, want) {
		t.Errorf("restored state differs:\n got %s\nwant %s", got, want)
	}
	if got := backup(t, f.replay(t)); !bytes.Equal(got, want) {
		t.Errorf("replayed state differs:\n got %s\nwant %s", got, want)
	}
	env := regtest.Signed(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: "0def", Province: "33"}, f.now)
	env.At = f.now
	wantErr(t, back.Apply(f.index+1, env), registry.EForbidden, "province 33 of p33/admin/zhao is not a member")

	// Admitted again with a new CA, it is a member since now, and admins of
	// the new CA sign.
	f.now = f.now.Add(time.Minute)
	ca := f.p.NewCA(t, "33")
	f.must(t, f.a11, registry.OpMemberAdd, regtest.MemberWith("33", ca))
	added := f.s.Members()[slices.IndexFunc(f.s.Members(), func(m registry.Member) bool { return m.Province == "33" })].AddedAt
	if !added.Equal(f.now) || added.Equal(firstAdmission) {
		t.Errorf("re-admitted 33 is a member since %s, want %s (not the first admission %s)", added, f.now, firstAdmission)
	}
	f.must(t, pkitest.Signer(t, regtest.IssueFrom(t, ca, pki.KindAdmin, "qian")), registry.OpPropose, regtest.Agreement("AG-33-NEW", "330000", "510000", from, until))
}

// TestExpelRetiresTheCA: once a province is expelled, no certificate its CA
// signed is trusted again, whether or not it was revoked: the registry
// refuses to admit the province again with that CA (alone, or beside a new
// one), and refuses any chain through it at verification, even once the
// province is back with a new CA, whose certificates verify. A snapshot
// restore and a replay of the log keep the rule.
func TestExpelRetiresTheCA(t *testing.T) {
	f := newFixture(t)
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	oldNode := f.p.Signer(t, "33", pki.KindNode, "gw-1")
	f.must(t, f.a11, registry.OpMemberExpel, registry.MemberRef{Province: "33"})

	ca := f.p.NewCA(t, "33")
	readmit := []struct {
		name   string
		member registry.MemberSpec
	}{
		{"the same CA", f.p.Member(t, "33")},
		{"the same CA beside a new one", withCAs(f.p.Member(t, "33"), regtest.MemberWith("33", ca))},
	}
	refusal := []string{`the CA certificate "`, "has the key of a CA retired when province 33 was removed at",
		"must never be trusted again. Make province 33 a new CA with a new key (laborlink pki csr, then laborlink pki sign-province)"}
	for _, tt := range readmit {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, f.a11, registry.OpMemberAdd, tt.member)
			for _, msg := range refusal {
				wantErr(t, r, registry.EConflict, msg)
			}
			if f.s.IsMember("33") {
				t.Fatal("the refused admission made 33 a member")
			}
		})
	}

	// Admitted with a new CA: its certificates verify, those of the old CA
	// do not.
	f.must(t, f.a11, registry.OpMemberAdd, regtest.MemberWith("33", ca))
	newNode := pkitest.Signer(t, regtest.IssueFrom(t, ca, pki.KindNode, "gw-1"))
	verifies := func(t *testing.T, s *registry.Store) {
		t.Helper()
		v := &pki.Verifier{Roots: f.p.Fed.Roots(), Revocation: s, Member: s.IsMember, Domain: regtest.Domain}
		if _, err := v.Verify(newNode.Chain(), x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("a certificate of the new CA: %v", err)
		}
		if _, err := v.Verify(oldNode.Chain(), x509.ExtKeyUsageClientAuth); !errors.Is(err, pki.ErrRevoked) {
			t.Errorf("a certificate of the retired CA: %v, want %v", err, pki.ErrRevoked)
		}
	}
	verifies(t, f.s)
	wantErr(t, f.do(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: "0abc", Province: "33"}), registry.EUnauthenticated, "signature invalid")

	for name, s := range map[string]*registry.Store{"restored": restored(t, f.s), "replayed": f.replay(t)} {
		t.Run(name, func(t *testing.T) {
			if got, want := backup(t, s), backup(t, f.s); !bytes.Equal(got, want) {
				t.Errorf("state differs:\n got %s\nwant %s", got, want)
			}
			verifies(t, s)
			env := regtest.Signed(t, f.a11, registry.OpMemberAdd, withCAs(regtest.MemberWith("33", ca), f.p.Member(t, "33")), f.now)
			env.At = f.now
			r := s.Apply(f.index+1, env)
			for _, msg := range refusal {
				wantErr(t, r, registry.EConflict, msg)
			}
		})
	}
}

// TestMemberRemoveAppliesAsBefore: member.remove, of command level 3, is in
// logs and snapshots of the federation; apply goes on applying it as that
// release did, retiring nothing, so a replica of this release replaying
// such a log reaches the state the others reached.
func TestMemberRemoveAppliesAsBefore(t *testing.T) {
	f := newFixture(t)
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	f.must(t, f.a11, registry.OpMemberRemove, registry.MemberRef{Province: "33"})
	ca, err := f.p.Fed.CA("33")
	if err != nil {
		t.Fatal(err)
	}
	if f.s.IsMember("33") || f.s.Revoked(ca.Cert) {
		t.Fatalf("after member.remove: member %v, CA refused %v; want neither", f.s.IsMember("33"), f.s.Revoked(ca.Cert))
	}
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	f.must(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: "0abc", Province: "33"})
}

// TestMemberAddRefusesCAsThatCannotVouchForTheProvince: member.add.v2 lists
// only CA certificates of the province's own, signed by the federation
// root. Province 51's CA given for province 33 (a wrong --ca-cert file)
// could vouch for no identity of 33, and expelling 33 would retire 51's
// CA, cutting every certificate of province 51 off every node; a leaf, or
// a CA of another federation's root, vouches for nothing here either. The
// refusal names the certificate and what it is.
func TestMemberAddRefusesCAsThatCannotVouchForTheProvince(t *testing.T) {
	f := newFixture(t)
	ca51, err := f.p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	leaf := f.p.Issue(t, "33", pki.KindNode, "gw-1").Cert
	stranger, err := regtest.NewPKI(t, "33").Fed.CA("33")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		member registry.MemberSpec
		msg    string
	}{
		{"another province's CA", regtest.MemberWith("33", ca51),
			fmt.Sprintf(`member.add: the CA certificate %q (serial %x) is constrained to province 51, not 33`, ca51.Cert.Subject.CommonName, ca51.Cert.SerialNumber.Bytes())},
		{"another province's CA beside its own", withCAs(f.p.Member(t, "33"), regtest.MemberWith("33", ca51)), "is constrained to province 51, not 33"},
		{"a leaf", registry.MemberSpec{Province: "33", Name: "Zhejiang", CACerts: pemOf(leaf)},
			fmt.Sprintf(`member.add: the certificate %q (serial %x) is not a CA certificate`, leaf.Subject.CommonName, leaf.SerialNumber.Bytes())},
		{"another federation's CA", regtest.MemberWith("33", stranger), "was not signed by a root of the federation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, f.do(t, f.a11, registry.OpMemberAdd, tt.member), registry.EInvalid, tt.msg)
			if f.s.IsMember("33") {
				t.Fatal("the refused admission made 33 a member")
			}
		})
	}
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	f.must(t, f.a11, registry.OpMemberExpel, registry.MemberRef{Province: "33"})
	if f.s.Revoked(ca51.Cert) || !f.s.ListsCA("51", ca51.Cert) {
		t.Fatalf("after 33 was admitted and expelled, 51's CA is refused (%v) or delisted (%v)", f.s.Revoked(ca51.Cert), !f.s.ListsCA("51", ca51.Cert))
	}
}

// TestAnOlderReleasesMemberAddAppliesAsItDid: member.add, the admission of
// releases before member.add.v2, is applied from the log as those releases
// applied it, listing another province's CA it was given beside the
// member's own, so that a replica replaying such a log reaches the state
// the others recorded; only the leader refuses to propose member.add now.
func TestAnOlderReleasesMemberAddAppliesAsItDid(t *testing.T) {
	f := newFixture(t)
	ca51, err := f.p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	f.must(t, f.a11, registry.OpMemberAddV1, withCAs(f.p.Member(t, "33"), regtest.MemberWith("33", ca51)))
	for name, s := range map[string]*registry.Store{"applied": f.s, "replayed": f.replay(t)} {
		if !s.IsMember("33") || !s.ListsCA("33", ca51.Cert) {
			t.Errorf("%s: 33 a member %v, listed with 51's CA %v; want both, as older releases applied member.add", name, s.IsMember("33"), s.ListsCA("33", ca51.Cert))
		}
	}
}

// withCAs is m with the CA certificates of more appended.
func withCAs(m registry.MemberSpec, more ...registry.MemberSpec) registry.MemberSpec {
	m.CACerts = slices.Clone(m.CACerts)
	for _, o := range more {
		m.CACerts = append(m.CACerts, o.CACerts...)
	}
	return m
}

func memberCodes(s *registry.Store) string {
	var codes []string
	for _, m := range s.Members() {
		codes = append(codes, m.Province)
	}
	return strings.Join(codes, " ")
}
