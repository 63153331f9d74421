package e2e

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// TestDeliveryGoesOnAfterRotationAndRevocation follows the runbook after a
// key compromise: 51's node certificate is reissued in place of its files,
// which the node reloads, and the old one is revoked. 51's connection to
// 44, opened with the old certificate, carries no more batches (44 answers
// 403 to every request on it); a record sent after the revocation must
// still be delivered, over a connection that presents the new certificate.
func TestDeliveryGoesOnAfterRotationAndRevocation(t *testing.T) {
	f := start(t, nil)
	g := f.gens["44"]
	f.sendDelivered("51", g.Transfer()) // opens 51's connection to 44
	old := f.nodeCert("51")

	cfg := f.config("51")
	ca, err := pki.OpenCA(f.CADir("51"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: cfg.Name, Province: "51", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		OutDir: filepath.Dir(cfg.TLS.Cert), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if leaf.CertFile != cfg.TLS.Cert || leaf.KeyFile != cfg.TLS.Key {
		t.Fatalf("issued %s and %s, the node reads %s and %s", leaf.CertFile, leaf.KeyFile, cfg.TLS.Cert, cfg.TLS.Key)
	}
	gatewaytest.Eventually(t, "51 to load its new certificate", func() bool {
		chain := f.Nodes["51"].Exchange().Chain()
		return len(chain) > 0 && bytes.Equal(chain[0], leaf.Cert.Raw)
	})

	f.revoke(old, "51")
	gatewaytest.Eventually(t, "44 to know of the revocation", func() bool { return f.Nodes["44"].Registry().IsRevoked(old) })
	f.sendDelivered("51", g.Transfer())
}
