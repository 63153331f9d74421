package registry_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestRetriedNodeCommandReconfiguresRaft: a node command that committed
// but whose raft reconfiguration failed (here it goes into the log behind
// Submit's back, so raft's configuration is never changed) is made good by
// resubmitting it: the duplicate answers the first outcome and changes
// raft's configuration to match. A retry of an older command does not undo
// a later one.
func TestRetriedNodeCommandReconfiguresRaft(t *testing.T) {
	c := regtest.NewCluster(t, 1, 1, nil)
	leader, node := c.Nodes[0], c.Nodes[1]
	steward := c.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	envelope := func(op registry.Op) *registry.Envelope {
		return regtest.Signed(t, steward, op, registry.NodeRef{ID: node.ID}, time.Now())
	}
	promote := envelope(registry.OpNodePromote)
	// A node that joins: raft takes it as a nonvoter even unreachable.
	joiner := c.PKI.Signer(t, "44", pki.KindNode, "gw-joining")
	joinerID := joiner.Identity().String()
	join := regtest.Signed(t, joiner, registry.OpNodeJoin, registry.NodeSpec{ID: joinerID, RaftAddr: "127.0.0.1:1"}, time.Now())
	tests := []struct {
		name string
		env  *registry.Envelope
		id   string
		// logged puts the command in the log without reconfiguring raft
		// first; otherwise it was submitted already.
		logged bool
		want   string
	}{
		{"join", join, joinerID, true, "nonvoter"},
		{"promote", promote, node.ID, true, "voter"},
		{"demote", envelope(registry.OpNodeDemote), node.ID, true, "nonvoter"},
		{"promote retried after the demotion", promote, node.ID, false, "nonvoter"},
		{"remove", envelope(registry.OpNodeRemove), node.ID, true, "absent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := suffrage(t, leader.Reg.Raft(), tt.id)
			if tt.logged {
				logBehindSubmit(t, leader.Reg.Raft(), tt.env)
				if got := suffrage(t, leader.Reg.Raft(), tt.id); got != before {
					t.Fatalf("raft changed to %s without a reconfiguration", got)
				}
			}
			res, err := leader.Reg.Submit(ctx(t), tt.env)
			if err != nil || res.Err != nil || !res.Duplicate {
				t.Fatalf("resubmitted %s: %+v, %v; want its first outcome, without error", tt.env.Op, res, err)
			}
			if got := suffrage(t, leader.Reg.Raft(), tt.id); got != tt.want {
				t.Fatalf("after the retry raft holds %s as %s, want %s", tt.id, got, tt.want)
			}
		})
	}
}

// logBehindSubmit applies env through raft as the leader's Submit would,
// but without the raft reconfiguration that follows a node command: what a
// leader leaves behind when the reconfiguration fails.
func logBehindSubmit(t *testing.T, r *raft.Raft, env *registry.Envelope) {
	t.Helper()
	stamped := *env
	stamped.At = time.Now().UTC()
	data, err := json.Marshal(&stamped)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if res := f.Response().(*registry.Result); res.Err != nil {
		t.Fatalf("%s: %v", env.Op, res.Err)
	}
}

// suffrage is how raft's configuration holds the server: voter, nonvoter
// or absent.
func suffrage(t *testing.T, r *raft.Raft, id string) string {
	t.Helper()
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			if s.Suffrage == raft.Voter {
				return "voter"
			}
			return "nonvoter"
		}
	}
	return "absent"
}
