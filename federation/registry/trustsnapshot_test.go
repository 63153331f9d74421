package registry_test

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

// TestARevocationIsSnapshotSoon: raft re-applies entries past the last
// snapshot only once a leader answers, so a node that crashes and restarts
// cut off would serve the trust of its last snapshot. A change of trust (a
// revocation here) is snapshot soon after it is applied, not at the next
// 1024 entries or at a clean shutdown.
func TestARevocationIsSnapshotSoon(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.Nodes[0]
	res, err := c.Client(n, c.PKI.Admin(t, "51", "zhang")).Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "51"})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(n.Config.DataDir, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		metas, err := snaps.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) > 0 && metas[0].Index >= res.Index {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot holds the revocation (index %d) 20s after it was applied; snapshots: %+v", res.Index, metas)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
