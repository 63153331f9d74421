package registry_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestRestoreKeepsThisClustersIndex: a backup carries the applied index of
// the log it was taken from. Restored into a cluster further behind (or
// ahead), the registry's AppliedIndex must be the index this cluster's raft
// installed the backup at, and go on rising with the next command: the
// freshness of reads and the nodes' audit watermark count on it.
func TestRestoreKeepsThisClustersIndex(t *testing.T) {
	long := regtest.NewCluster(t, 1, 0, nil)
	short := regtest.NewClusterWithPKI(t, long.PKI, 1, 0, nil)
	ll, sl := long.WaitLeader(), short.WaitLeader()
	s11 := long.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	publish := func(n *regtest.Node, content string) *registry.Result {
		t.Helper()
		env := regtest.Signed(t, s11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(content)}, time.Now())
		res, err := n.Reg.Submit(ctx(t), env)
		if err != nil || res.Err != nil {
			t.Fatalf("publish on %s: %v, %v", n.ID, err, res)
		}
		return res
	}
	for i := range 40 {
		publish(ll, fmt.Sprint(i))
	}
	backup := func(n *regtest.Node) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := n.Reg.Backup(ctx(t), &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	fromLong, fromShort := backup(ll), backup(sl)

	tests := []struct {
		name   string
		into   *regtest.Node
		backup []byte
	}{
		{"into a cluster behind the backup", sl, fromLong},
		{"into a cluster ahead of the backup", ll, fromShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.into.Reg.Store()
			before := st.AppliedIndex()
			if err := tt.into.Reg.Restore(ctx(t), bytes.NewReader(tt.backup)); err != nil {
				t.Fatal(err)
			}
			restored := st.AppliedIndex()
			snap, _ := strconv.ParseUint(tt.into.Reg.Raft().Stats()["last_snapshot_index"], 10, 64)
			if restored <= before || restored != snap {
				t.Fatalf("AppliedIndex %d before the restore, %d after; raft installed the backup at %d", before, restored, snap)
			}
			res := publish(tt.into, "after "+tt.name)
			if res.Index <= restored || st.AppliedIndex() != res.Index {
				t.Fatalf("the next command applied at %d, AppliedIndex %d; after the restore it was %d", res.Index, st.AppliedIndex(), restored)
			}
		})
	}
}
