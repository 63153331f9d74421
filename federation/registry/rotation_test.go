package registry_test

import (
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestRotationListsCAs: a province rotating its CA is listed with both CAs
// during the overlap, then with the new one alone; ListsCA follows, by
// key (a certificate the root signed again for a listed key is listed
// too), per province, and the same after a restore and a replay. A
// verifier asking the store refuses the old CA's leaves once it is gone.
func TestRotationListsCAs(t *testing.T) {
	f := newFixture(t)
	old, err := f.p.Fed.CA("33")
	if err != nil {
		t.Fatal(err)
	}
	f.must(t, f.a11, registry.OpMemberAdd, f.p.Member(t, "33"))
	renewed, err := f.p.Fed.Root.SignProvince(filepath.Join(old.Dir, pki.CACSRFile), pki.SignProvinceOptions{Province: "33", OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rotated := f.p.NewCA(t, "33")
	oldNode := pkitest.Signer(t, regtest.IssueFrom(t, old, pki.KindNode, "gw-1"))
	newNode := pkitest.Signer(t, regtest.IssueFrom(t, rotated, pki.KindNode, "gw-2"))
	lists := func(t *testing.T, s *registry.Store, wantOld bool) {
		t.Helper()
		for _, c := range []struct {
			what     string
			province string
			ca       *x509.Certificate
			want     bool
		}{
			{"the old CA", "33", old.Cert, wantOld},
			{"the old CA's key signed again", "33", renewed.Cert, wantOld},
			{"the new CA", "33", rotated.Cert, true},
			{"the new CA, for another province", "44", rotated.Cert, false},
			{"a province that is no member", "32", rotated.Cert, false},
		} {
			if got := s.ListsCA(c.province, c.ca); got != c.want {
				t.Errorf("ListsCA(%s, %s) = %v, want %v", c.province, c.what, got, c.want)
			}
		}
		v := &pki.Verifier{Roots: f.p.Fed.Roots(), Revocation: s, Member: s.IsMember, ListedCA: s.ListsCA, Domain: regtest.Domain}
		if _, err := v.Verify(newNode.Chain(), x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("a certificate of the new CA: %v", err)
		}
		_, err := v.Verify(oldNode.Chain(), x509.ExtKeyUsageClientAuth)
		if wantOld && err != nil {
			t.Errorf("a certificate of the old CA during the overlap: %v", err)
		}
		if !wantOld && !errors.Is(err, pki.ErrUnlistedCA) {
			t.Errorf("a certificate of the old CA after the rotation: %v, want %v", err, pki.ErrUnlistedCA)
		}
	}

	f.must(t, f.a11, registry.OpMemberAdd, withCAs(f.p.Member(t, "33"), regtest.MemberWith("33", rotated)))
	lists(t, f.s, true)
	f.must(t, f.a11, registry.OpMemberAdd, regtest.MemberWith("33", rotated))
	lists(t, f.s, false)
	for name, s := range map[string]*registry.Store{"restored": restored(t, f.s), "replayed": f.replay(t)} {
		t.Run(name, func(t *testing.T) { lists(t, s, false) })
	}
}

// TestTrustChangesAreSignalled: the raft stream layer sweeps its open
// connections when the store says its trust changed: at a member's new CA
// list, a revocation and an expulsion, and not at an agreement.
func TestTrustChangesAreSignalled(t *testing.T) {
	f := newFixture(t)
	from, until := days(f.now, -1, 365)
	for _, c := range []struct {
		what    string
		op      registry.Op
		body    any
		changes bool
	}{
		{"a member admitted", registry.OpMemberAdd, f.p.Member(t, "33"), true},
		{"its CA rotated away", registry.OpMemberAdd, regtest.MemberWith("33", f.p.NewCA(t, "33")), true},
		{"an agreement proposed", registry.OpPropose, regtest.Agreement("AG-51-44-T", "510000", "440000", from, until), false},
		{"a certificate revoked", registry.OpCertRevoke, registry.RevokeBody{Serial: "0abc", Province: "33"}, true},
		{"the member expelled", registry.OpMemberExpel, registry.MemberRef{Province: "33"}, true},
	} {
		changed := registry.TrustChanged(f.s)
		signer := f.a11
		if c.op == registry.OpPropose {
			signer = f.a51
		}
		f.must(t, signer, c.op, c.body)
		select {
		case <-changed:
			if !c.changes {
				t.Errorf("%s: signalled as a change of trust", c.what)
			}
		default:
			if c.changes {
				t.Errorf("%s: not signalled as a change of trust", c.what)
			}
		}
	}
}
