package regtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/freeport"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// Node is one registry node of a test cluster with its mTLS API server.
type Node struct {
	ID       string
	Province string
	Config   registry.Config
	Reg      *registry.Registry
	Leaf     *pki.Leaf
	srv      *http.Server
	reg      atomic.Pointer[registry.Registry]
	stopped  bool
}

// API is the node's API base URL.
func (n *Node) API() string { return "https://" + n.Config.APIAddr }

// Cluster is a registry over real raft and real mTLS on loopback.
type Cluster struct {
	t     testing.TB
	PKI   *PKI
	Nodes []*Node
	logs  *logBuffer
}

// logBuffer keeps the cluster's warnings; a failed test prints the tail.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	return string(b[max(0, len(b)-n):])
}

// Timeouts short enough for tests, long enough for two loaded cores.
func testConfig() registry.Config {
	c := registry.DefaultConfig()
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.ApplyTimeout = 10 * time.Second
	c.StaleAfter = 600 * time.Millisecond
	c.SnapshotInterval = 100 * time.Millisecond
	return c
}

// Provinces of the cluster's members; 33 has a CA but is not a member.
var (
	VoterProvinces = []string{"11", "51", "44"}
	Members        = []string{"11", "51", "44"}
)

// NewCluster starts voters (in 11, 51, 44, ...) and non-voters (in 51, 44)
// and waits until every node holds the registry. tweak may change each
// node's config.
func NewCluster(t testing.TB, voters, nonvoters int, tweak func(*registry.Config)) *Cluster {
	t.Helper()
	return NewClusterWithPKI(t, NewPKI(t, "11", "51", "44", "33"), voters, nonvoters, tweak)
}

// NewClusterWithPKI is NewCluster in an existing federation PKI (which must
// have provinces 11, 51 and 44), e.g. a fresh cluster to restore a backup into.
func NewClusterWithPKI(t testing.TB, p *PKI, voters, nonvoters int, tweak func(*registry.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, PKI: p, logs: &logBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster log (tail):\n%s", c.logs.tail(16<<10))
		}
	})
	var specs []registry.NodeSpec
	for i := range voters + nonvoters {
		prov := VoterProvinces[i%len(VoterProvinces)]
		if i >= voters {
			prov = []string{"51", "44"}[(i-voters)%2]
		}
		n := c.newNode(prov, fmt.Sprintf("gw-%d", i+1), tweak)
		if i < voters {
			specs = append(specs, registry.NodeSpec{ID: n.ID, RaftAddr: n.Config.RaftAddr, APIAddr: n.Config.APIAddr})
		}
		c.Nodes = append(c.Nodes, n)
	}
	g := c.PKI.Genesis(t, specs, Members...)
	g.Stewards = []string{"11"} // like a ministry: the one province that runs the federation
	for i, n := range c.Nodes {
		if i < voters {
			n.Config.Genesis = &g
		}
		c.Start(n)
	}
	c.WaitLeader()
	pkitest.Eventually(t, 20*time.Second, "voters to apply genesis", func() bool {
		for _, n := range c.Nodes[:voters] {
			if !n.Reg.Store().Initialized() {
				return false
			}
		}
		return true
	})
	for _, n := range c.Nodes[voters:] {
		c.Join(n)
	}
	return c
}

// freePort picks a loopback port for a node to bind later.
func freePort(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func (c *Cluster) newNode(prov, name string, tweak func(*registry.Config)) *Node {
	t := c.t
	n := &Node{Province: prov, Leaf: c.PKI.Issue(t, prov, pki.KindNode, name)}
	n.ID = n.Leaf.Identity.String()
	cfg := testConfig()
	cfg.NodeID = n.ID
	cfg.DataDir = t.TempDir()
	cfg.RaftAddr = freePort(t)
	cfg.APIAddr = freePort(t)
	cfg.TrustedProvinces = Members
	cfg.Logger = slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", n.ID)
	cfg.TLS = c.PKI.TLS(t, n.Leaf, pki.RevokedFunc(func(s *x509.Certificate) bool {
		r := n.reg.Load()
		return r != nil && r.IsRevoked(s)
	}))
	if tweak != nil {
		tweak(&cfg)
	}
	n.Config = cfg
	return n
}

// AddNode creates a node that is not started.
func (c *Cluster) AddNode(prov, name string) *Node {
	n := c.newNode(prov, name, nil)
	c.Nodes = append(c.Nodes, n)
	return n
}

// Start opens the node's registry and API server.
func (c *Cluster) Start(n *Node) {
	t := c.t
	t.Helper()
	reg, err := registry.Open(n.Config)
	if err != nil {
		t.Fatalf("open %s: %v", n.ID, err)
	}
	n.Reg, n.stopped = reg, false
	n.reg.Store(reg)
	sc, err := n.Config.TLS.ServerConfig(pki.PeerPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", n.Config.APIAddr)
	if err != nil {
		t.Fatalf("API listener of %s: %v", n.ID, err)
	}
	n.srv = &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	go n.srv.Serve(tls.NewListener(ln, sc))
	t.Cleanup(func() { c.Stop(n) })
}

// Stop closes the node, as a crash would from the others' point of view.
func (c *Cluster) Stop(n *Node) {
	if n.stopped {
		return
	}
	n.stopped = true
	n.srv.Close()
	if err := n.Reg.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		c.t.Logf("close %s: %v", n.ID, err)
	}
}

// Join has a node join through the first voter's API and waits until it
// holds the registry.
func (c *Cluster) Join(n *Node) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var seeds []string
	for _, v := range c.Nodes {
		if v != n && !v.stopped && v.Reg.Store().Initialized() {
			seeds = append(seeds, v.Config.APIAddr)
		}
	}
	if err := n.Reg.Join(ctx, seeds...); err != nil {
		c.t.Fatalf("join %s: %v", n.ID, err)
	}
	pkitest.Eventually(c.t, 20*time.Second, n.ID+" to receive the registry", n.Reg.Store().Initialized)
}

// Leader waits for a leader among the running nodes and returns it.
func (c *Cluster) WaitLeader() *Node {
	c.t.Helper()
	var leader *Node
	pkitest.Eventually(c.t, 20*time.Second, "a leader", func() bool {
		for _, n := range c.Nodes {
			if !n.stopped && n.Reg != nil && n.Reg.Status().State == "Leader" {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

// Others returns the cluster's nodes but n, in order: a leader's
// followers, say.
func (c *Cluster) Others(n *Node) []*Node {
	var out []*Node
	for _, o := range c.Nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// Running returns the nodes that are not stopped.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if !n.stopped && n.Reg != nil {
			out = append(out, n)
		}
	}
	return out
}

// WaitConverged waits until every running node's state machine has applied
// every command the leader's has.
func (c *Cluster) WaitConverged() {
	c.t.Helper()
	// raft's AppliedIndex moves when an entry is handed to the state
	// machine, before it is applied, and a read right after saw the state
	// without it. A barrier waits until the leader's state machine has
	// applied everything before it; each node's store then says how far
	// its own has got. A leader that steps down meanwhile is asked again.
	var idx uint64
	for attempt := 0; ; attempt++ {
		leader := c.WaitLeader()
		err := leader.Reg.Raft().Barrier(10 * time.Second).Error()
		if err == nil {
			idx = leader.Reg.Store().AppliedIndex()
			break
		}
		if attempt == 2 {
			c.t.Fatalf("barrier on the leader %s: %v", leader.ID, err)
		}
	}
	pkitest.Eventually(c.t, 20*time.Second, fmt.Sprintf("every node to apply index %d", idx), func() bool {
		for _, n := range c.Running() {
			if n.Reg.Store().AppliedIndex() < idx {
				return false
			}
		}
		return true
	})
}

// Admin is an admin certificate with its signer and TLS, for clients.
type Admin struct {
	Leaf   *pki.Leaf
	Signer *pki.Signer
	TLS    *pki.TLS
}

// Admin issues an admin certificate of a province.
func (p *PKI) Admin(t testing.TB, province, name string) *Admin {
	t.Helper()
	return p.admin(t, p.Issue(t, province, pki.KindAdmin, name))
}

// AdminFrom issues an admin certificate from ca, a CA NewCA made.
func (p *PKI) AdminFrom(t testing.TB, ca *pki.CA, name string) *Admin {
	t.Helper()
	return p.admin(t, IssueFrom(t, ca, pki.KindAdmin, name))
}

func (p *PKI) admin(t testing.TB, l *pki.Leaf) *Admin {
	t.Helper()
	return &Admin{Leaf: l, Signer: pkitest.Signer(t, l), TLS: p.TLS(t, l, nil)}
}

// Client returns a registry client of a node authenticated as the admin.
func (c *Cluster) Client(n *Node, a *Admin) *registry.Client {
	c.t.Helper()
	cl, err := registry.NewClient(n.API(), a.TLS, a.Signer)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}
