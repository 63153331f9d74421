package node

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/pki"
)

// TestARestartedNodeDecidesWithTheRegistrysBundle: the federation bundle
// the registry holds, which may be stricter than the one shipped in the
// binary, is in force from the moment a restarted node serves, not from
// its first policy.reload: the node is ready, and decides, as soon as its
// replica hears from the leader, well before then.
func TestARestartedNodeDecidesWithTheRegistrysBundle(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	n := singleNodeWith(t, p, func(c *Config) { c.Policy.Reload = time.Hour })
	ctx := context.Background()
	shipped := policy.FederationBundle()
	files := maps.Clone(shipped.Files)
	first := slices.Sorted(maps.Keys(files))[0]
	files[first] += "\n# the federation's own revision\n"
	content, err := policy.Layer{Files: files}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	submitCommand(t, n, admin, registry.OpPolicyPublish, registry.PolicyBody{Content: content})
	cfg := n.cfg
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n2, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if got := n2.policy.Revisions(); got.BundleVersion != 1 || got.Bundle == shipped.Revision() {
		t.Fatalf("the restarted node decides with %s; want the registry's bundle v1", got)
	}
}
