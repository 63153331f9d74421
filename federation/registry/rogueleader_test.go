package registry_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// tlsStream is a raft.StreamLayer that dials with a node certificate: all a
// rogue needs to speak raft to a registry node.
type tlsStream struct {
	net.Listener
	cfg *tls.Config
}

func (s tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	return tls.DialWithDialer(d, "tcp", string(addr), s.cfg)
}

// rogueTransport speaks raft with leaf's certificate, and the header its
// requests carry names leaf's node.
func rogueTransport(t *testing.T, c *regtest.Cluster, leaf *pki.Leaf) (*raft.NetworkTransport, raft.RPCHeader) {
	t.Helper()
	cfg, err := c.PKI.TLS(t, leaf, nil).ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransport(tlsStream{ln, cfg}, 1, 5*time.Second, io.Discard)
	t.Cleanup(func() { trans.Close() })
	return trans, raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(leaf.Identity.String()), Addr: []byte(ln.Addr().String())}
}

// TestOnlyVotersSendRaftRequests: hashicorp/raft takes InstallSnapshot
// (and AppendEntries) from any peer claiming a higher term, and a snapshot
// is state no signature covers. A node of a member province that is no
// voter, whether it never joined or joined as a non-voter, must not reach
// a voter's raft: here its forged snapshot would make province 44 a
// steward. (From a security review: the raft port admitted any node of a
// member province.)
func TestOnlyVotersSendRaftRequests(t *testing.T) {
	c := regtest.NewCluster(t, 1, 1, nil)
	victim := c.WaitLeader()
	var buf bytes.Buffer
	if err := victim.Reg.Store().Backup(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["state"].(map[string]any)["stewards"] = []string{"44"}
	forged, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var nonvoter *regtest.Node
	for _, n := range c.Nodes {
		if n != victim {
			nonvoter = n
		}
	}
	for name, leaf := range map[string]*pki.Leaf{
		"a node that never joined": c.PKI.Issue(t, "44", pki.KindNode, "rogue"),
		"a non-voter":              nonvoter.Leaf,
	} {
		t.Run(name, func(t *testing.T) {
			trans, hdr := rogueTransport(t, c, leaf)
			term, last := victim.Reg.Raft().CurrentTerm()+100, victim.Reg.Raft().LastIndex()+100
			conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(victim.ID), Address: raft.ServerAddress(victim.Config.RaftAddr)}}}
			req := &raft.InstallSnapshotRequest{
				RPCHeader:       hdr,
				SnapshotVersion: raft.SnapshotVersionMax, Term: term, Leader: hdr.Addr,
				LastLogIndex: last, LastLogTerm: term, Configuration: raft.EncodeConfiguration(conf), ConfigurationIndex: last,
				Size: int64(len(forged)),
			}
			var resp raft.InstallSnapshotResponse
			err = trans.InstallSnapshot(raft.ServerID(victim.ID), raft.ServerAddress(victim.Config.RaftAddr), req, &resp, bytes.NewReader(forged))
			// Refused at the handshake: the client hears it as a bad
			// certificate alert, or, when the alert comes after its first
			// write, as a broken connection.
			if err == nil || resp.Success {
				t.Errorf("InstallSnapshot from %s: %v, success %v; want the connection refused", leaf.Identity, err, resp.Success)
			}
			if victim.Reg.Store().IsSteward("44") {
				t.Fatalf("%s replaced the registry state over raft: 44 is a steward", leaf.Identity)
			}
		})
	}
}

// TestADemotedVoterLosesItsRaftConnections: the voter check runs at the
// handshake, and raft keeps connections for as long as they work; a voter
// demoted (or removed), often for being distrusted, must not keep sending
// raft requests on the connections it opened while a voter. The sweep asks
// again at every tick, as no change of the registry's trust announces a
// change of raft's configuration. (From a review of the check.)
func TestADemotedVoterLosesItsRaftConnections(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	victim := c.WaitLeader()
	rogue := c.Others(victim)[0]
	trans, hdr := rogueTransport(t, c, rogue.Leaf)
	// While a voter: a stale RequestVote opens a connection, which the
	// transport keeps for the next request.
	var vr raft.RequestVoteResponse
	if err := trans.RequestVote(raft.ServerID(victim.ID), raft.ServerAddress(victim.Config.RaftAddr), &raft.RequestVoteRequest{RPCHeader: hdr}, &vr); err != nil {
		t.Fatalf("RequestVote while a voter: %v", err)
	}
	steward := c.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	if res, err := victim.Reg.Submit(ctx(t), regtest.Signed(t, steward, registry.OpNodeDemote, registry.NodeRef{ID: rogue.ID}, time.Now())); err != nil || res.Err != nil {
		t.Fatalf("demote: %+v %v", res, err)
	}
	c.Stop(rogue) // its own connections end; the one above speaks for it
	pkitest.Eventually(t, 20*time.Second, "the demoted voter's raft connections to close", func() bool {
		_, open := registry.PeerEpoch(victim.Reg, rogue.ID)
		return !open
	})
}

// TestAJoiningNodeTakesRaftRequestsOnlyFromItsSeedsVoters: a node that
// asked to join knows no raft configuration until the leader's first
// request brings one, and the handshake then admits any node of a trusted
// province. A rogue one that got in first would give it a configuration
// naming the rogue alone, and the real leader would be refused for good.
// The voters the seed listed are the only ones the node takes until then.
// Here the seed lists the cluster's voter and then fails the join, so the
// node stays waiting. (From a review of the registry.)
func TestAJoiningNodeTakesRaftRequestsOnlyFromItsSeedsVoters(t *testing.T) {
	c, leader, joining := waitingJoiner(t)
	refusesRogueSnapshot(t, c, joining, leader)
}

// TestARestartedJoiningNodeStillTakesOnlyItsSeedsVoters: the voters the
// seed listed outlive a restart of the joining node before the
// configuration reaches it; held in memory alone, they were lost, and
// the restarted node took raft requests from any node of a trusted
// province again. The real leader, one of them, still brings the node
// the registry; once the node knows raft's configuration, its next start
// removes the pinned voters' file. (From a review of the registry.)
func TestARestartedJoiningNodeStillTakesOnlyItsSeedsVoters(t *testing.T) {
	c, leader, joining := waitingJoiner(t)
	c.Stop(joining)
	c.Start(joining)
	refusesRogueSnapshot(t, c, joining, leader)

	c.Join(joining)
	c.Stop(joining)
	c.Start(joining)
	pinned := filepath.Join(joining.Config.DataDir, "join-voters.json")
	if _, err := os.Stat(pinned); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after a start with raft's configuration: %v; want it removed", pinned, err)
	}
}

// TestAnUnreadableJoinVotersFileStopsTheStart: a node that cannot tell
// which voters its join pinned must not take raft requests from any node
// of a trusted province instead; it refuses to start, naming the file.
func TestAnUnreadableJoinVotersFileStopsTheStart(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	for name, content := range map[string]string{
		"corrupt":    `{"voters": ["p11/node`,
		"no voter":   `{"voters": []}`,
		"not a list": `{"voters": "p11/node/gw-1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			n := c.AddNode("44", "joining")
			pinned := filepath.Join(n.Config.DataDir, "join-voters.json")
			if err := os.WriteFile(pinned, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			reg, err := registry.Open(n.Config)
			if err == nil {
				reg.Close()
				t.Fatalf("a node started with %s %s", name, pinned)
			}
			if !strings.Contains(err.Error(), pinned) {
				t.Errorf("start with %s %s: %v; want an error naming the file", name, pinned, err)
			}
		})
	}
}

// waitingJoiner starts a one-node cluster and a node of province 44 that
// asked to join it through a seed that failed the join
// (joinThroughFailingSeed): the node waits for raft's configuration.
func waitingJoiner(t *testing.T) (c *regtest.Cluster, leader, joining *regtest.Node) {
	t.Helper()
	c = regtest.NewCluster(t, 1, 0, nil)
	leader = c.WaitLeader()
	joining = c.AddNode("44", "joining")
	c.Start(joining)
	joinThroughFailingSeed(t, c, joining, leader)
	return c, leader, joining
}

// joinThroughFailingSeed has joining ask to join through a seed that lists
// voter as the registry's voter and then fails the join, so that joining
// stays waiting for raft's configuration.
func joinThroughFailingSeed(t *testing.T, c *regtest.Cluster, joining, voter *regtest.Node) {
	t.Helper()
	seed := c.PKI.Issue(t, "11", pki.KindNode, "seed")
	sc, err := c.PKI.TLS(t, seed, nil).ServerConfig(pki.PeerPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			json.NewEncoder(w).Encode(registry.Status{Servers: []registry.Server{{ID: voter.ID, Address: voter.Config.RaftAddr, Voter: true}}})
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(registry.Errorf(registry.EUnavailable, "seed down for the test"))
	})}
	go srv.Serve(tls.NewListener(ln, sc))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := joining.Reg.Join(ctx, ln.Addr().String()); err == nil {
		t.Fatal("join through a seed that fails it succeeded")
	}
}

// refusesRogueSnapshot has a rogue node of a trusted province, no voter
// the seed listed, send joining a snapshot of leader's registry naming the
// rogue the only voter, and wants it refused.
func refusesRogueSnapshot(t *testing.T, c *regtest.Cluster, joining, leader *regtest.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := leader.Reg.Store().Backup(&buf); err != nil {
		t.Fatal(err)
	}
	rogue := c.PKI.Issue(t, "44", pki.KindNode, "rogue")
	trans, hdr := rogueTransport(t, c, rogue)
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(rogue.Identity.String()), Address: raft.ServerAddress(hdr.Addr)}}}
	req := &raft.InstallSnapshotRequest{
		RPCHeader:       hdr,
		SnapshotVersion: raft.SnapshotVersionMax, Term: 100, Leader: hdr.Addr,
		LastLogIndex: 100, LastLogTerm: 100, Configuration: raft.EncodeConfiguration(conf), ConfigurationIndex: 100,
		Size: int64(buf.Len()),
	}
	var resp raft.InstallSnapshotResponse
	err := trans.InstallSnapshot(raft.ServerID(joining.ID), raft.ServerAddress(joining.Config.RaftAddr), req, &resp, bytes.NewReader(buf.Bytes()))
	if err == nil || resp.Success {
		t.Errorf("InstallSnapshot from %s: %v, success %v; want the connection refused", rogue.Identity, err, resp.Success)
	}
	if joining.Reg.Store().Initialized() {
		t.Fatalf("%s gave the joining node its registry over raft", rogue.Identity)
	}
}
