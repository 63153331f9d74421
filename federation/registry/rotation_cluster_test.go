package registry_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestDelistingACAVotersUseIsRefused: the last step of a CA rotation (the
// new CA listed alone) is refused before it enters the log while a raft
// voter of the province still presents a certificate of the old CA, be it
// the leader or a follower, naming the province, the CA and the voter, and
// while a voter is down (it might be on the old CA; member.add.v2 being of
// command level 6, the level check refuses it first, for a node that does
// not answer); once the voter has a certificate of the new CA the same
// update goes through, and the registry goes on committing.
func TestDelistingACAVotersUseIsRefused(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	v51 := nodeOf(t, c, "51")
	a11 := c.PKI.Admin(t, "11", "wang")
	old, err := c.PKI.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	rotated := listNewCA(t, c, a11, "51")

	newOnly := regtest.MemberWith("51", rotated)
	want := fmt.Sprintf(`member.add refused: it would delist province 51's CA %q (serial %x) while raft voters still present node certificates it issued: %s; `+
		`reissue their node certificates from a CA the update keeps first (laborlink pki issue --kind node --force, copied to each node, which reloads it). `+
		`Then send the update again: delisting a CA that voters still use would cut them off the registry, raft included`,
		old.Cert.Subject.CommonName, old.Cert.SerialNumber.Bytes(), v51.ID)
	for _, leader := range []*regtest.Node{v51, nodeOf(t, c, "44")} {
		t.Run("leader "+leader.ID, func(t *testing.T) {
			lead(t, c, leader)
			_, err := c.Client(nodeOf(t, c, "11"), a11).Submit(ctx(t), registry.OpMemberAdd, newOnly)
			if registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
				t.Fatalf("delisting the CA of %s's certificate:\n got %s %v\nwant %s %s", v51.ID, registry.ErrorCode(err), err, registry.EConflict, want)
			}
		})
	}
	// A voter that cannot be asked might be on the old CA.
	c.Stop(v51)
	_, err = c.Client(nodeOf(t, c, "11"), a11).Submit(ctx(t), registry.OpMemberAdd, newOnly)
	if want := v51.ID + " did not answer at " + v51.Config.APIAddr; registry.ErrorCode(err) != registry.EConflict || !strings.Contains(err.Error(), want) {
		t.Fatalf("delisting the CA with %s down:\n got %s %v\nwant %s containing %s", v51.ID, registry.ErrorCode(err), err, registry.EConflict, want)
	}
	c.Start(v51)
	c.WaitConverged()
	for _, n := range c.Nodes {
		if !n.Reg.Store().ListsCA("51", old.Cert) {
			t.Fatalf("%s: the refused update delisted the old CA", n.ID)
		}
	}

	regtest.Reissue(t, v51.Config.TLS.KeyPair, v51.Leaf.CertFile, v51.Leaf.KeyFile, regtest.IssueFrom(t, rotated, pki.KindNode, "gw-2"))
	if _, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpMemberAdd, newOnly); err != nil {
		t.Fatalf("delisting the old CA once every voter of 51 has a certificate of the new one: %v", err)
	}
	if _, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpMemberAdd, c.PKI.Member(t, "33")); err != nil {
		t.Fatalf("a write after the rotation: %v", err)
	}
	c.WaitConverged()
}

// TestAnotherProvincesCAIsRefusedAsSuch: a member.add giving a member
// another province's CA alone would delist the member's own CA, which its
// voter uses; the leader's rotation check leaves it to apply, whose refusal
// says what is wrong: the CA is another province's, whatever the voters
// present.
func TestAnotherProvincesCAIsRefusedAsSuch(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	ca51, err := c.PKI.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Client(c.Nodes[0], c.PKI.Admin(t, "11", "wang")).Submit(ctx(t), registry.OpMemberAdd, regtest.MemberWith("11", ca51))
	if want := "is constrained to province 51, not 11"; registry.ErrorCode(err) != registry.EInvalid || !strings.Contains(err.Error(), want) {
		t.Fatalf("member.add of 11 with 51's CA: %s %v; want %s containing %q", registry.ErrorCode(err), err, registry.EInvalid, want)
	}
}

// listNewCA makes province a new CA and has admin list it beside the old
// one: the first step of a rotation.
func listNewCA(t *testing.T, c *regtest.Cluster, admin *regtest.Admin, province string) *pki.CA {
	t.Helper()
	ca := c.PKI.NewCA(t, province)
	if _, err := c.Client(c.Nodes[0], admin).Submit(ctx(t), registry.OpMemberAdd, withCAs(c.PKI.Member(t, province), regtest.MemberWith(province, ca))); err != nil {
		t.Fatalf("listing both CAs of %s: %v", province, err)
	}
	return ca
}

// nodeOf is the cluster's first node of province.
func nodeOf(t *testing.T, c *regtest.Cluster, province string) *regtest.Node {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Province == province {
			return n
		}
	}
	t.Fatalf("the cluster has no node of province %s", province)
	return nil
}

// lead makes n the leader.
func lead(t *testing.T, c *regtest.Cluster, n *regtest.Node) {
	t.Helper()
	if l := c.WaitLeader(); l != n {
		if err := l.Reg.TransferLeadership(ctx(t), n.ID); err != nil {
			t.Fatalf("leadership from %s to %s: %v", l.ID, n.ID, err)
		}
	}
	pkitest.Eventually(t, 20*time.Second, n.ID+" to lead", func() bool { return n.Reg.Status().State == "Leader" })
}

// TestDelistedCAsNodeIsCutOffItsOpenConnections: once the registry delists
// a CA, the others close the raft connections a node presenting a
// certificate of that CA already had (and refuse new ones), so it falls
// out of contact, while a voter that has its certificate from the CA kept
// goes on, on new connections.
func TestDelistedCAsNodeIsCutOffItsOpenConnections(t *testing.T) {
	c := regtest.NewCluster(t, 3, 1, nil)
	c.WaitConverged()
	nv, v51 := c.Nodes[3], nodeOf(t, c, "51")
	if nv.Province != "51" || v51 == nv {
		t.Fatalf("want a voter and a non-voter of province 51, have %s and %s", v51.ID, nv.ID)
	}
	a11 := c.PKI.Admin(t, "11", "wang")
	rotated := listNewCA(t, c, a11, "51")
	regtest.Reissue(t, v51.Config.TLS.KeyPair, v51.Leaf.CertFile, v51.Leaf.KeyFile, regtest.IssueFrom(t, rotated, pki.KindNode, "gw-2"))
	if nv.Reg.Freshness().Stale {
		t.Fatal("the non-voter is stale before the old CA is delisted")
	}
	if _, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpMemberAdd, regtest.MemberWith("51", rotated)); err != nil {
		t.Fatalf("delisting the old CA: %v", err)
	}
	pkitest.Eventually(t, 20*time.Second, "the non-voter on the delisted CA to lose contact with the leader", func() bool {
		return nv.Reg.Freshness().Stale
	})
	res, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpMemberAdd, c.PKI.Member(t, "33"))
	if err != nil {
		t.Fatalf("a write after the rotation: %v", err)
	}
	pkitest.Eventually(t, 20*time.Second, v51.ID+", reissued, to apply the write", func() bool {
		return v51.Reg.Store().AppliedIndex() >= res.Index
	})
	if nv.Reg.Store().IsMember("33") {
		t.Fatal("the non-voter on the delisted CA still receives the log")
	}
}
