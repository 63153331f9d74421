package registry_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// propose proposes an agreement through cl and returns the approval body.
func propose(t *testing.T, cl *registry.Client, a contracts.Agreement) registry.TransitionBody {
	t.Helper()
	res, err := cl.Submit(ctx(t), registry.OpPropose, a)
	if err != nil {
		t.Fatalf("propose %s: %v", a.ID, err)
	}
	v := res.Agreement.Latest()
	return registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest}
}

func TestClusterWritesAnywhereReadsConverge(t *testing.T) {
	c := regtest.NewCluster(t, 3, 2, nil)
	a51 := c.PKI.Admin(t, "51", "zhang")
	a44 := c.PKI.Admin(t, "44", "li")
	a11 := c.PKI.Admin(t, "11", "wang")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))

	// Each write goes to a different node, non-voters included.
	body := propose(t, c.Client(c.Nodes[4], a51), regtest.Agreement("AG-51-44-001", "510000", "440000", from, until))
	if _, err := c.Client(c.Nodes[3], a51).Submit(ctx(t), registry.OpApprove, body); err != nil {
		t.Fatalf("approve by 51 through a non-voter: %v", err)
	}
	_, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpApprove, body)
	if registry.ErrorCode(err) != registry.EForbidden || !strings.Contains(err.Error(), "not a party") {
		t.Fatalf("approve by a non-party admin: %v", err)
	}
	if _, err := c.Client(c.Nodes[1], a44).Submit(ctx(t), registry.OpApprove, body); err != nil {
		t.Fatalf("approve by 44: %v", err)
	}

	c.WaitConverged()
	for _, n := range c.Nodes {
		m := n.Reg.Covers("511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, now)
		if len(m) != 1 || m[0].AgreementID != "AG-51-44-001" {
			t.Errorf("%s: covers %+v", n.ID, m)
		}
		r, err := c.Client(n, a44).Agreement(ctx(t), "AG-51-44-001", false)
		if err != nil || r.Data.StatusAt(now) != contracts.AgreementActive || r.Freshness.Stale || r.Freshness.AppliedIndex == 0 {
			t.Errorf("%s: read %+v, %v", n.ID, r, err)
		}
	}
	st, err := c.Client(c.Nodes[4], a44).Status(ctx(t))
	if err != nil || len(st.Servers) != 5 || st.Members != 3 {
		t.Fatalf("status %+v, %v", st, err)
	}
	voters := 0
	for _, s := range st.Servers {
		if s.Voter {
			voters++
		}
	}
	if voters != 3 {
		t.Errorf("%d voters, want 3: %+v", voters, st.Servers)
	}
}

// TestClusterBindsAWildcardAndAdvertisesItsAddress: nodes whose raft layer
// binds every interface (RaftListen 0.0.0.0:P) are known to each other by the
// address they advertise (RaftAddr 127.0.0.1:P): a node joins and replicates
// through it, and every node reports the leader at it, not at the wildcard.
func TestClusterBindsAWildcardAndAdvertisesItsAddress(t *testing.T) {
	c := regtest.NewCluster(t, 3, 1, func(cfg *registry.Config) { cfg.RaftListen = net.JoinHostPort("0.0.0.0", raftPort(t, cfg)) })
	leader := c.WaitLeader()
	a51 := c.PKI.Admin(t, "51", "zhang")
	now := time.Now()
	propose(t, c.Client(c.Nodes[3], a51), regtest.Agreement("AG-51-44-001", "510000", "440000", registry.DayOf(now), registry.DayOf(now.AddDate(1, 0, 0))))
	c.WaitConverged()
	for _, n := range c.Nodes {
		st := n.Reg.Status()
		if st.LeaderAddr != leader.Config.RaftAddr {
			t.Errorf("%s reports the leader at %q, want its advertised %q", n.ID, st.LeaderAddr, leader.Config.RaftAddr)
		}
		for _, s := range st.Servers {
			if host, _, _ := net.SplitHostPort(s.Address); host != "127.0.0.1" {
				t.Errorf("%s lists server %s at %q, want its advertised address", n.ID, s.ID, s.Address)
			}
		}
		if _, err := n.Reg.Store().Agreement("AG-51-44-001"); err != nil {
			t.Errorf("%s: %v", n.ID, err)
		}
	}
}

// TestClusterReportsTheLeaderByItsConfiguredName: a node that binds the
// name it advertises (a pod's DNS name) is reported at that name, as
// configured, not at the address the name resolved to.
func TestClusterReportsTheLeaderByItsConfiguredName(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, func(cfg *registry.Config) { cfg.RaftAddr = net.JoinHostPort("localhost", raftPort(t, cfg)) })
	leader := c.WaitLeader()
	if got := leader.Reg.Status().LeaderAddr; got != leader.Config.RaftAddr {
		t.Errorf("the leader is reported at %q, want %q as configured", got, leader.Config.RaftAddr)
	}
}

// TestAReadIsAtTheIndexOfItsState: the applied index a read reports is
// that of the last command the state read has applied, not raft's, which
// also counts entries the state machine never sees (the barrier of a
// consistent read) and runs ahead of it.
func TestAReadIsAtTheIndexOfItsState(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	cl := c.Client(c.Nodes[0], c.PKI.Admin(t, "11", "wang"))
	res, err := cl.Submit(ctx(t), registry.OpCertRevoke, registry.RevokeBody{Serial: "abcdef", Province: "11"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := cl.Members(ctx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := read.Freshness.AppliedIndex; got != res.Index {
		t.Errorf("a consistent read after the command at index %d reports index %d", res.Index, got)
	}
}

// raftPort is the port of cfg's raft address, which the cluster picked free.
func raftPort(t *testing.T, cfg *registry.Config) string {
	t.Helper()
	_, port, err := net.SplitHostPort(cfg.RaftAddr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestAProposalsIDIsWhatRecordsTake: records name their agreement by id,
// and a record's ids are audit tokens (contracts.CheckAgreementID), so a proposal
// whose id is not one is refused before it enters the log. Apply still
// takes such an id, as its log may hold one proposed under the older rule
// and every replay must reach the same state.
func TestAProposalsIDIsWhatRecordsTake(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	a51 := c.PKI.Admin(t, "51", "zhang")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	_, err := c.Client(c.Nodes[0], a51).Submit(ctx(t), registry.OpPropose, regtest.Agreement("AG/51-44/001", "510000", "440000", from, until))
	if registry.ErrorCode(err) != registry.EInvalid || !strings.Contains(err.Error(), "character 3 is '/'") {
		t.Fatalf("a proposal with id AG/51-44/001: %v; want %s naming the character", err, registry.EInvalid)
	}
	if _, err := c.Nodes[0].Reg.Store().Agreement("AG/51-44/001"); err == nil {
		t.Error("the refused proposal was applied")
	}

	f := newFixture(t)
	f.must(t, f.a51, registry.OpPropose, regtest.Agreement("AG/51-44/001", "510000", "440000", from, until))
}
