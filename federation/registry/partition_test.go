package registry_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

func TestPartitionedNonvoterServesStaleThenCatchesUp(t *testing.T) {
	c := regtest.NewCluster(t, 3, 1, nil)
	a51, a44 := c.PKI.Admin(t, "51", "zhang"), c.PKI.Admin(t, "44", "li")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	body := propose(t, c.Client(c.Nodes[0], a51), regtest.Agreement("AG-1", "510000", "440000", from, until))
	c.WaitConverged()

	nv := c.Nodes[3]
	nv.Reg.SetPartitioned(true)
	pkitest.Eventually(t, 10*time.Second, "the non-voter to report itself stale", func() bool {
		return nv.Reg.Freshness().Stale && nv.Reg.Ready() != nil
	})
	if err := nv.Reg.Ready(); !strings.Contains(err.Error(), "no contact with the leader") {
		t.Errorf("readiness: %v", err)
	}

	// The federation goes on without it.
	for _, a := range []*regtest.Admin{a51, a44} {
		if _, err := c.Client(c.Nodes[1], a).Submit(ctx(t), registry.OpApprove, body); err != nil {
			t.Fatal(err)
		}
	}
	// The partitioned node still serves what it has, marked stale.
	r, err := c.Client(nv, a44).Agreement(ctx(t), "AG-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Freshness.Stale || r.Data.StatusAt(now) != contracts.AgreementProposed {
		t.Fatalf("partitioned read: stale %v, status %s", r.Freshness.Stale, r.Data.StatusAt(now))
	}
	if n := len(nv.Reg.Covers("51", "44", contracts.RecordTransfer, contracts.PurposeStatistics, now)); n != 0 {
		t.Fatalf("partitioned node already covers: %d", n)
	}

	nv.Reg.SetPartitioned(false)
	pkitest.Eventually(t, 20*time.Second, "the non-voter to catch up", func() bool {
		return !nv.Reg.Freshness().Stale && nv.Reg.Ready() == nil &&
			len(nv.Reg.Covers("51", "44", contracts.RecordTransfer, contracts.PurposeStatistics, now)) == 1
	})
}

func TestSnapshotsAndRestartRecoverTheWholeState(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		cfg.SnapshotThreshold = 8
		cfg.TrailingLogs = 4
	})
	a51, a44, a11 := c.PKI.Admin(t, "51", "zhang"), c.PKI.Admin(t, "44", "li"), c.PKI.Admin(t, "11", "wang")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	cl := c.Client(c.Nodes[0], a51)
	for i := range 12 {
		body := propose(t, cl, regtest.Agreement("AG-"+string(rune('A'+i)), "510000", "440000", from, until))
		for _, a := range []*regtest.Admin{a51, a44} {
			if _, err := c.Client(c.Nodes[i%3], a).Submit(ctx(t), registry.OpApprove, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("package x")}); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	for _, n := range c.Nodes {
		if err := n.Reg.Raft().Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", n.ID, err)
		}
	}

	// A follower restarts from its snapshot and log, and a new node joins
	// from an InstallSnapshot: both hold exactly the leader's state.
	leader := c.WaitLeader()
	followers := c.Others(leader)
	follower := followers[len(followers)-1]
	c.Stop(follower)
	if _, err := c.Client(leader, a44).Submit(ctx(t), registry.OpSuspend, registry.TransitionBody{ID: "AG-C"}); err != nil {
		t.Fatal(err)
	}
	c.Start(follower)
	late := c.AddNode("51", "gw-late")
	c.Start(late)
	c.Join(late)
	c.WaitConverged()

	// Compare with whoever leads now: leadership may have moved meanwhile.
	want := backup(t, c.WaitLeader().Reg.Store())
	for _, n := range []*regtest.Node{follower, late} {
		if got := backup(t, n.Reg.Store()); !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s state differs from the leader's at byte %d:\n got …%s…\nwant …%s…", n.ID, i, got[max(0, i-300):min(len(got), i+300)], want[max(0, i-300):min(len(want), i+300)])
		}
	}
}

// backup returns a store's state without the applied index, which differs
// legitimately between a replica restored from a snapshot and one that
// applied every entry.
func backup(t *testing.T, s *registry.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.Backup(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc["state"]
}

// restored is a new store restored from a backup of s.
func restored(t *testing.T, s *registry.Store) *registry.Store {
	t.Helper()
	var b bytes.Buffer
	if err := s.Backup(&b); err != nil {
		t.Fatal(err)
	}
	r := registry.NewStore()
	if err := r.Restore(&b); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNonMembersCannotJoinOrSpeakRaft(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	outsider := c.AddNode("33", "gw-1")
	c.Start(outsider)
	err := outsider.Reg.Join(ctx(t), c.Nodes[0].Config.APIAddr)
	if registry.ErrorCode(err) != registry.EForbidden || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("join by a non-member node: %v", err)
	}

	// Straight to the raft port with the outsider's node certificate.
	tc, err := c.PKI.TLS(t, outsider.Leaf, nil).ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", c.Nodes[0].Config.RaftAddr, tc)
	if err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write([]byte{0})
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a non-member spoke raft: %v", err)
	}

	// An admin certificate of a member is not a node either.
	admin := c.PKI.Issue(t, "51", pki.KindAdmin, "zhang")
	tc, _ = c.PKI.TLS(t, admin, nil).ClientConfig(pki.PeerPolicy{})
	conn, err = tls.Dial("tcp", c.Nodes[0].Config.RaftAddr, tc)
	if err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("an admin certificate spoke raft")
	}
}

// TestRevokedNodeIsCutOffItsOpenConnections: once the registry lists a
// node's certificate as revoked, the others close the raft connections it
// already had (and refuse new ones), so it falls out of contact.
func TestRevokedNodeIsCutOffItsOpenConnections(t *testing.T) {
	c := regtest.NewCluster(t, 3, 1, nil)
	c.WaitConverged()
	nv := c.Nodes[3]
	if nv.Reg.Freshness().Stale {
		t.Fatal("the non-voter is stale before its revocation")
	}
	admin := c.PKI.Admin(t, nv.Province, "wang")
	body := registry.RevokeBody{Serial: nv.Leaf.Cert.SerialNumber.Text(16), Province: nv.Province, Reason: "key lost"}
	if _, err := c.Client(c.Nodes[0], admin).Submit(ctx(t), registry.OpCertRevoke, body); err != nil {
		t.Fatal(err)
	}
	pkitest.Eventually(t, 20*time.Second, "the revoked node to lose contact with the leader", func() bool {
		return nv.Reg.Freshness().Stale
	})
}
