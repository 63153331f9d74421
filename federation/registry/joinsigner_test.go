package registry_test

import (
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestAJoinIsSignedWithTheCertificateInUse: a node waiting to join whose
// certificate was reissued since it started, and the old one revoked (the
// runbook after a key compromise), signs its join with the certificate it
// presents now, which the registry takes: signed with the one it started
// with, the join was refused as revoked.
func TestAJoinIsSignedWithTheCertificateInUse(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	leader := c.WaitLeader()
	joining := c.AddNode("44", "joining")
	c.Start(joining)
	old := joining.Leaf.Cert
	regtest.Reissue(t, joining.Config.TLS.KeyPair, joining.Leaf.CertFile, joining.Leaf.KeyFile,
		c.PKI.Issue(t, "44", pki.KindNode, "joining"))
	revoke := registry.RevokeBody{Serial: old.SerialNumber.Text(16), Province: "44", Reason: "keyCompromise"}
	if _, err := c.Client(leader, c.PKI.Admin(t, "44", "li")).Submit(ctx(t), registry.OpCertRevoke, revoke); err != nil {
		t.Fatalf("revoke the node's old certificate: %v", err)
	}
	c.Join(joining)
}
