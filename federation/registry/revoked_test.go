package registry_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestRevokedFollowsTheRegistry: the store derives what it looks a
// certificate up by once, but answers from the registry as it is at each
// call: a verifier wired as a node's, asked again and again about the
// same parsed chains, refuses a leaf at the first call after its
// revocation, the leaves of a CA at the first call after a rotation away
// from it, and the CA itself at the first call after its province's
// expulsion.
func TestRevokedFollowsTheRegistry(t *testing.T) {
	f := newFixture(t)
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	ca, err := f.p.Fed.CA("33")
	if err != nil {
		t.Fatal(err)
	}
	hr := f.p.Signer(t, "33", pki.KindSystem, "hr").Chain()
	ops := f.p.Signer(t, "33", pki.KindOperator, "ops").Chain()
	s := f.s
	v := &pki.Verifier{Roots: f.p.Fed.Roots(), Domain: regtest.Domain, Revocation: s, Member: s.IsMember, ListedCA: s.ListsCA}
	verify := func(t *testing.T, chain []*x509.Certificate, want error) {
		t.Helper()
		for range 2 {
			if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); !errors.Is(err, want) {
				t.Fatalf("Verify %s: %v, want %v", chain[0].Subject.CommonName, err, want)
			}
		}
	}
	revoked := func(t *testing.T, c *x509.Certificate, want bool) {
		t.Helper()
		if got := s.Revoked(c); got != want {
			t.Fatalf("Revoked(%s) = %v, want %v", c.Subject.CommonName, got, want)
		}
	}
	verify(t, hr, nil)
	verify(t, ops, nil)
	revoked(t, ca.Cert, false)

	f.must(t, f.a33, registry.OpCertRevoke, registry.RevokeBody{Serial: hr[0].SerialNumber.Text(16), Province: "33"})
	revoked(t, hr[0], true)
	verify(t, hr, pki.ErrRevoked)
	verify(t, ops, nil)

	rotated := f.p.NewCA(t, "33")
	f.must(t, f.a11, registry.OpMemberAdd, regtest.MemberWith("33", rotated))
	verify(t, ops, pki.ErrUnlistedCA)
	f.must(t, f.a11, registry.OpMemberAdd, withCAs(regtest.MemberWith("33", rotated), f.p.Member(t, "33")))
	verify(t, ops, nil)

	f.must(t, f.a11, registry.OpMemberExpel, registry.MemberRef{Province: "33"})
	revoked(t, ca.Cert, true)
	revoked(t, ops[1], true)
	verify(t, ops, pki.ErrRevoked)
}

// TestTheLeaderRefusesARevokeOfNoProvince: revocations are kept by the
// province of the certificate revoked, so a cert.revoke naming no province,
// or no province code, would revoke nothing while reporting success. The
// leader refuses it before the log, naming the field, even from a steward;
// apply takes the ones older leaders let in as it always did
// (TestRevokeOfNoProvinceAppliesAsItDid).
func TestTheLeaderRefusesARevokeOfNoProvince(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	steward := c.Client(c.Nodes[0], c.PKI.Admin(t, "11", "wang"))
	for _, prov := range []string{"", "5x", "99"} {
		_, err := steward.Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "1f2e3d", Province: prov})
		want := fmt.Sprintf("cert.revoke: province %q is not a province code; give the 2-digit code of the province whose CA issued the certificate, such as 44", prov)
		if registry.ErrorCode(err) != registry.EInvalid || err.Error() != want {
			t.Errorf("cert.revoke of province %q:\n got %s %v\nwant %s %s", prov, registry.ErrorCode(err), err, registry.EInvalid, want)
		}
	}
	if got := c.Nodes[0].Reg.Store().Revocations(); len(got) != 0 {
		t.Fatalf("refused revocations recorded: %+v", got)
	}
}

// TestRevocationsOfOneSerialAreListedByProvince: two province CAs may
// issue the same serial, and each revocation names its province; the
// list orders them by serial, then province, not as the map holding them
// happens to iterate. (From a review of the registry.)
func TestRevocationsOfOneSerialAreListedByProvince(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	steward := c.Client(c.Nodes[0], c.PKI.Admin(t, "11", "wang"))
	for _, prov := range []string{"51", "44", "33", "11"} {
		if _, err := steward.Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "1f2e3d", Province: prov}); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		var got []string
		for _, r := range c.Nodes[0].Reg.Store().Revocations() {
			got = append(got, r.Province)
		}
		if want := []string{"11", "33", "44", "51"}; !slices.Equal(got, want) {
			t.Fatalf("revocations of serial 1f2e3d listed by province %v; want %v", got, want)
		}
	}
}

// TestRevokingARevokedSerialAgainIsRefused: a revocation, applied, is the
// record of when and why the certificate was revoked and by whom, and the
// nodes' audit logs it by its index. Revoking the serial again would
// replace that record and log the revocation twice, so the leader refuses
// it before the log, naming the serial and when it was revoked, whether
// it is sent to the leader or forwarded by a follower, however the serial
// is spelt, and from a steward too; apply takes the ones the log holds as
// it always did (TestRevokingAgainAppliesAsItDid). The first command sent
// again still answers its outcome, and the serial of another province is
// another revocation. (From a review of the registry.)
func TestRevokingARevokedSerialAgainIsRefused(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	follower := c.Others(leader)[0]
	li, wang := c.PKI.Admin(t, "44", "li"), c.PKI.Admin(t, "11", "wang")
	first := regtest.Signed(t, li.Signer, registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "44", Reason: "keyCompromise"}, time.Now())
	res, err := c.Client(leader, li).SubmitEnvelope(ctx(t), first)
	if err != nil {
		t.Fatal(err)
	}
	held := leader.Reg.Store().Revocations()
	if len(held) != 1 || held[0].Index != res.Index {
		t.Fatalf("revocations after the first: %+v", held)
	}
	want := fmt.Sprintf("cert.revoke: serial abcdef of province 44 is revoked already, at %s (registry index %d)", held[0].At.UTC().Format(time.RFC3339), res.Index)
	again := []struct {
		name   string
		node   *regtest.Node
		admin  *regtest.Admin
		serial string
	}{
		{"by the same admin, at the leader", leader, li, "abcdef"},
		{"by a steward, forwarded by a follower, spelt otherwise", follower, wang, "00ABCDEF"},
	}
	for _, tt := range again {
		_, err := c.Client(tt.node, tt.admin).Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: tt.serial, Province: "44", Reason: "superseded"})
		if registry.ErrorCode(err) != registry.EConflict || !strings.Contains(err.Error(), want) {
			t.Errorf("revoking serial %s again %s:\n got %s %v\nwant %s %s...", tt.serial, tt.name, registry.ErrorCode(err), err, registry.EConflict, want)
		}
	}
	if dup, err := c.Client(follower, li).SubmitEnvelope(ctx(t), first); err != nil || !dup.Duplicate || dup.Index != res.Index {
		t.Errorf("the first revocation sent again: %+v, %v; want its outcome at index %d", dup, err, res.Index)
	}
	if _, err := c.Client(leader, wang).Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "51"}); err != nil {
		t.Fatalf("revoking serial abcdef of province 51: %v", err)
	}
	c.WaitConverged()
	for _, n := range c.Running() {
		got := n.Reg.Store().Revocations()
		if len(got) != 2 || got[0] != held[0] || got[1].Province != "51" {
			t.Errorf("revocations on %s: %+v; want the first one of 44 as recorded, %+v, and 51's", n.ID, got, held[0])
		}
	}
}

// TestRevokingAgainWithoutPermissionIsForbidden: an admin who may not
// revoke a province's certificates hears that, as for any serial, not
// whether the serial is revoked already: permission comes first, as in
// apply. (From a review of the registry.)
func TestRevokingAgainWithoutPermissionIsForbidden(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	leader := c.WaitLeader()
	li, zhang := c.PKI.Admin(t, "44", "li"), c.PKI.Admin(t, "51", "zhang")
	if _, err := c.Client(leader, li).Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "44"}); err != nil {
		t.Fatal(err)
	}
	for _, serial := range []string{"abcdef", "123456"} {
		_, err := c.Client(leader, zhang).Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: serial, Province: "44"})
		if want := "cannot revoke certificates of province 44"; registry.ErrorCode(err) != registry.EForbidden || !strings.Contains(err.Error(), want) {
			t.Errorf("p51's admin revoking serial %s of province 44: %s %v; want %s ...%s", serial, registry.ErrorCode(err), err, registry.EForbidden, want)
		}
	}
	if got := leader.Reg.Store().Revocations(); len(got) != 1 {
		t.Errorf("revocations: %+v; want only li's", got)
	}
}

// TestRevocationsOfOneSerialSentAtOnce: of revocations of one serial sent
// together, one is applied and the others are refused, each checked once
// the one before it is applied.
func TestRevocationsOfOneSerialSentAtOnce(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	cl := c.Client(c.Nodes[0], c.PKI.Admin(t, "44", "li"))
	errs := make([]error, 16)
	c0 := ctx(t)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = cl.Submit(c0, registry.OpCertRevoke, registry.RevokeBody{Serial: "1f2e3d", Province: "44", Reason: fmt.Sprint("reason ", i)})
		})
	}
	wg.Wait()
	applied := 0
	for i, err := range errs {
		switch registry.ErrorCode(err) {
		case "":
			applied++
		case registry.EConflict:
		default:
			t.Errorf("revocation %d: %v", i, err)
		}
	}
	if got := c.Nodes[0].Reg.Store().Revocations(); applied != 1 || len(got) != 1 || got[0].Index == 0 {
		t.Fatalf("%d of %d revocations of one serial applied; the registry holds %+v", applied, len(errs), got)
	}
}
