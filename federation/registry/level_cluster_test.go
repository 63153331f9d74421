package registry_test

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestCommandLevelGatesNewCommands: while one node reports an older
// command level, a newer command is refused before it enters the log,
// naming that node, and older commands go on; once the node is upgraded the
// command goes through. A node that is down blocks newer commands too.
func TestCommandLevelGatesNewCommands(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		if strings.HasPrefix(cfg.NodeID, "p44/") {
			registry.SetCommandLevel(cfg, 3) // a release that knows member.remove, not member.expel
		}
	})
	behind := c.Nodes[2]
	if behind.Province != "44" {
		t.Fatalf("node %s is not the one of province 44", behind.ID)
	}
	a11 := c.PKI.Admin(t, "11", "wang")
	a51 := c.PKI.Admin(t, "51", "zhang")
	up := c.Client(c.Nodes[0], a11)
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))

	for _, n := range c.Nodes {
		st, err := c.Client(n, a11).Status(ctx(t))
		want := registry.CommandLevel
		if n == behind {
			want = 3
		}
		if err != nil || st.CommandLevel != want {
			t.Fatalf("status of %s: command level %d (%v), want %d", n.ID, st.CommandLevel, err, want)
		}
	}
	// Any node lists every node's level; a system certificate may not ask.
	levels, err := c.Client(c.Nodes[0], a11).Levels(ctx(t))
	if err != nil || len(levels) != 3 {
		t.Fatalf("levels: %+v, %v", levels, err)
	}
	for _, l := range levels {
		if want := map[bool]int{true: 3, false: registry.CommandLevel}[l.ID == behind.ID]; l.Level != want || l.Problem != "" {
			t.Errorf("levels: %s at %d (%s), want %d", l.ID, l.Level, l.Problem, want)
		}
	}
	sys := c.PKI.Issue(t, "11", pki.KindSystem, "hr")
	system := &regtest.Admin{Leaf: sys, Signer: pkitest.Signer(t, sys), TLS: c.PKI.TLS(t, sys, nil)}
	if _, err := c.Client(c.Nodes[0], system).Levels(ctx(t)); registry.ErrorCode(err) != registry.EForbidden {
		t.Errorf("levels asked with a system certificate: %v, want forbidden", err)
	}

	// Level 1 and level 2 commands: every node knows them.
	if _, err := up.Submit(ctx(t), registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("bundle"), Note: "level 1"}); err != nil {
		t.Fatalf("policy.publish (level 1): %v", err)
	}
	issued := c.PKI.Issue(t, "11", pki.KindNode, "gw-9")
	if _, err := up.Submit(ctx(t), registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(issued.Cert)}); err != nil {
		t.Fatalf("cert.issued (level 2) with every node at level 2 or more: %v", err)
	}

	// member.expel (level 4) is refused, through any node, naming the node
	// behind; member.remove, which it replaced, whatever the levels.
	remove33 := registry.MemberRef{Province: "33"}
	want := fmt.Sprintf("member.expel needs every node on a release that knows it (command level 4): %s reports level 3 (upgrade them)", behind.ID)
	for _, n := range c.Nodes {
		_, err := c.Client(n, a11).Submit(ctx(t), registry.OpMemberExpel, remove33)
		if registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
			t.Fatalf("member.expel through %s with %s behind:\n got %s %v\nwant %s %s", n.ID, behind.ID, registry.ErrorCode(err), err, registry.EConflict, want)
		}
	}
	_, err = up.Submit(ctx(t), registry.OpMemberRemove, remove33)
	if want := "member.remove is replaced by member.expel (command level 4): send member.expel instead, as laborlink of this release does"; registry.ErrorCode(err) != registry.EInvalid || err.Error() != want {
		t.Fatalf("member.remove:\n got %s %v\nwant %s %s", registry.ErrorCode(err), err, registry.EInvalid, want)
	}
	admit33 := c.PKI.Member(t, "33")
	_, err = up.Submit(ctx(t), registry.OpMemberAdd, admit33)
	if want := fmt.Sprintf("member.add.v2 needs every node on a release that knows it (command level 6): %s reports level 3 (upgrade them)", behind.ID); registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
		t.Fatalf("member.add.v2 with %s behind:\n got %s %v\nwant %s %s", behind.ID, registry.ErrorCode(err), err, registry.EConflict, want)
	}
	propose(t, c.Client(behind, a51), regtest.Agreement("AG-51-44-L1", "510000", "440000", from, until))
	c.WaitConverged()
	for _, n := range c.Nodes {
		if n.Reg.Store().IsMember("33") {
			t.Fatalf("%s: a refused admission admitted 33", n.ID)
		}
		if _, err := n.Reg.Store().Agreement("AG-51-44-L1"); err != nil {
			t.Fatalf("%s: the level-1 proposal made while a node is behind: %v", n.ID, err)
		}
	}

	// The node is upgraded: the same command goes through, here from that node.
	c.Stop(behind)
	registry.SetCommandLevel(&behind.Config, 0)
	c.Start(behind)
	if _, err := c.Client(behind, a11).Submit(ctx(t), registry.OpMemberAdd, admit33); err != nil {
		t.Fatalf("member.add.v2 once every node is at level 6: %v", err)
	}
	removal := regtest.Signed(t, a11.Signer, registry.OpMemberExpel, remove33, time.Now())
	if _, err := c.Client(behind, a11).SubmitEnvelope(ctx(t), removal); err != nil {
		t.Fatalf("member.expel once every node is at level 6: %v", err)
	}
	c.WaitConverged()
	for _, n := range c.Nodes {
		if n.Reg.Store().IsMember("33") {
			t.Fatalf("%s: 33 still a member after member.expel", n.ID)
		}
	}

	// A node that is down cannot say what it knows: level 4 waits for it,
	// level 1 does not.
	leader := c.WaitLeader()
	down := c.Others(leader)[0]
	seen, _ := registry.PeerEpoch(leader.Reg, down.ID)
	c.Stop(down)
	// The leader goes by the level it remembers until a connection with
	// the node closes.
	pkitest.Eventually(t, 20*time.Second, "the leader to see "+down.ID+"'s raft connections close", func() bool {
		epoch, _ := registry.PeerEpoch(leader.Reg, down.ID)
		return epoch != seen
	})
	_, err = c.Client(leader, a11).Submit(ctx(t), registry.OpMemberExpel, registry.MemberRef{Province: "44"})
	want = fmt.Sprintf("member.expel needs every node on a release that knows it (command level 4): %s did not answer at %s (wait until they are back, or remove them from the registry if they are gone for good)",
		down.ID, down.Config.APIAddr)
	if registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
		t.Fatalf("member.expel with %s down:\n got %s %v\nwant %s %s", down.ID, registry.ErrorCode(err), err, registry.EConflict, want)
	}
	propose(t, c.Client(leader, a51), regtest.Agreement("AG-51-44-L2", "510000", "440000", from, until))
	// A resubmission of the removal that committed answers its outcome: the
	// check would only hide it.
	if res, err := c.Client(leader, a11).SubmitEnvelope(ctx(t), removal); err != nil || !res.Duplicate {
		t.Fatalf("resubmitted member.expel with %s down: %+v, %v", down.ID, res, err)
	}
	// An op the leader's own release does not know never enters the log.
	unknown := regtest.Signed(t, a11.Signer, registry.Op("member.rename"), remove33, time.Now())
	_, err = c.Client(leader, a11).SubmitEnvelope(ctx(t), unknown)
	if registry.ErrorCode(err) != registry.EInvalid || !strings.HasPrefix(err.Error(), `unknown command "member.rename": the leader p`) ||
		!strings.Contains(err.Error(), fmt.Sprintf("runs a release that does not know it (command level %d)", registry.CommandLevel)) {
		t.Fatalf("unknown op: %s %v", registry.ErrorCode(err), err)
	}
}

// TestCommandLevelsAreRemembered: the leader asks each node its command
// level once for consecutive commands above level 1, and again once the
// node's raft connection is made anew (a restart) or the level is older
// than 30 s; a node that comes back on an older release is asked, and the
// command it does not know is refused.
func TestCommandLevelsAreRemembered(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	var ahead atomic.Int64 // how far the nodes' clocks are ahead
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		cfg.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		registry.OnLevelAsked(cfg, func(id string) {
			mu.Lock()
			defer mu.Unlock()
			asked[id]++
		})
	})
	leader := c.WaitLeader()
	followers := c.Others(leader)
	a11 := c.PKI.Admin(t, "11", "wang")
	issued := 0
	issue := func() error { // a command of level 2
		issued++
		cert := c.PKI.Issue(t, "11", pki.KindNode, fmt.Sprintf("gw-new-%d", issued))
		_, err := c.Client(leader, a11).Submit(ctx(t), registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(cert.Cert)})
		return err
	}
	taken := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		a := maps.Clone(asked)
		clear(asked)
		return a
	}
	wantAsked := func(t *testing.T, what string, nodes ...*regtest.Node) {
		t.Helper()
		if err := issue(); err != nil {
			t.Fatalf("%s: cert.issued: %v", what, err)
		}
		want := map[string]int{}
		for _, n := range nodes {
			want[n.ID] = 1
		}
		if got := taken(); !maps.Equal(got, want) {
			t.Errorf("%s: the leader asked %v for their levels, want %v", what, got, want)
		}
	}
	// quiet issues commands until one makes the leader ask no node, and
	// returns whom it asked meanwhile: for a while after a node starts,
	// raft makes connections of its own, and each makes the leader ask
	// that node again.
	quiet := func(t *testing.T, what string) map[string]int {
		t.Helper()
		all := map[string]int{}
		for range 20 {
			if err := issue(); err != nil {
				t.Fatalf("%s: cert.issued: %v", what, err)
			}
			got := taken()
			if len(got) == 0 {
				return all
			}
			for id, n := range got {
				all[id] += n
			}
		}
		t.Fatalf("%s: the leader asked %v for their levels at each of 20 commands", what, all)
		return nil
	}
	restart := func(n *regtest.Node, level int) {
		c.Stop(n)
		registry.SetCommandLevel(&n.Config, level)
		c.Start(n)
		c.WaitConverged()
	}

	if got := quiet(t, "from the start"); got[followers[0].ID] == 0 || got[followers[1].ID] == 0 {
		t.Errorf("from the start: the leader asked %v for their levels, want both followers", got)
	}
	ahead.Add(int64(31 * time.Second))
	wantAsked(t, "31 s later", followers...)
	// The levels are remembered again: a command soon asks nobody. Not
	// necessarily the next one: on a loaded machine raft may time out a
	// connection and open another, and the leader then rightly asks again.
	quiet(t, "after the levels expired")
	restart(followers[0], 0)
	if got := quiet(t, "after "+followers[0].ID+" restarted"); got[followers[0].ID] == 0 || got[followers[1].ID] != 0 {
		t.Errorf("after %s restarted: the leader asked %v for their levels, want %s alone", followers[0].ID, got, followers[0].ID)
	}

	restart(followers[0], 1)
	err := issue()
	want := fmt.Sprintf("cert.issued needs every node on a release that knows it (command level 2): %s reports level 1 (upgrade them)", followers[0].ID)
	if registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
		t.Fatalf("cert.issued after %s came back on level 1:\n got %s %v\nwant %s %s", followers[0].ID, registry.ErrorCode(err), err, registry.EConflict, want)
	}
}

// TestAmendAndAdmitWaitForLevel6: while a node reports level 5, the level of
// agreement.approve.v2, the amendment and admission of this release
// (agreement.amend.v2, member.add.v2) are refused before the log, through
// any node, naming it, and older commands go on; once it is upgraded they
// go through. agreement.amend and member.add, which they replaced, are
// refused whatever the levels, saying what to send: the log's copies apply
// as they did, but the leader proposes none.
func TestAmendAndAdmitWaitForLevel6(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		if strings.HasPrefix(cfg.NodeID, "p44/") {
			registry.SetCommandLevel(cfg, 5) // knows agreement.approve.v2, not agreement.amend.v2
		}
	})
	behind := nodeOf(t, c, "44")
	a11, a51, a44 := c.PKI.Admin(t, "11", "wang"), c.PKI.Admin(t, "51", "zhang"), c.PKI.Admin(t, "44", "li")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	a := regtest.Agreement("AG-51-44-L6", "510000", "440000", from, until)
	body := propose(t, c.Client(behind, a51), a)
	for _, admin := range []*regtest.Admin{a51, a44} {
		if _, err := c.Client(behind, admin).Submit(ctx(t), registry.OpApprove, body); err != nil {
			t.Fatalf("agreement.approve.v2 (level 5) with every node at level 5 or more: %v", err)
		}
	}
	amended := a
	amended.Title = "amended"
	cmds := []struct {
		op, replaced registry.Op
		by           *regtest.Admin
		body         any
	}{
		{registry.OpAmend, registry.OpAmendV1, a51, amended},
		{registry.OpMemberAdd, registry.OpMemberAddV1, a11, c.PKI.Member(t, "33")},
	}
	for _, cmd := range cmds {
		want := fmt.Sprintf("%s needs every node on a release that knows it (command level 6): %s reports level 5 (upgrade them)", cmd.op, behind.ID)
		for _, n := range c.Nodes {
			_, err := c.Client(n, cmd.by).Submit(ctx(t), cmd.op, cmd.body)
			if registry.ErrorCode(err) != registry.EConflict || err.Error() != want {
				t.Fatalf("%s through %s with %s behind:\n got %s %v\nwant %s %s", cmd.op, n.ID, behind.ID, registry.ErrorCode(err), err, registry.EConflict, want)
			}
		}
	}
	c.WaitConverged()
	for _, n := range c.Nodes {
		rec, err := n.Reg.Store().Agreement(a.ID)
		if err != nil || len(rec.Versions) != 1 || n.Reg.Store().IsMember("33") {
			t.Fatalf("%s: refused commands changed the registry: agreement %+v (%v), 33 a member %v", n.ID, rec, err, n.Reg.Store().IsMember("33"))
		}
	}

	c.Stop(behind)
	registry.SetCommandLevel(&behind.Config, 0)
	c.Start(behind)
	for _, cmd := range cmds {
		if _, err := c.Client(behind, cmd.by).Submit(ctx(t), cmd.op, cmd.body); err != nil {
			t.Fatalf("%s once every node is at level 6: %v", cmd.op, err)
		}
		_, err := c.Client(behind, cmd.by).Submit(ctx(t), cmd.replaced, cmd.body)
		want := fmt.Sprintf("%s is replaced by %s (command level 6): send %s instead, as laborlink of this release does", cmd.replaced, cmd.op, cmd.op)
		if registry.ErrorCode(err) != registry.EInvalid || err.Error() != want {
			t.Fatalf("%s:\n got %s %v\nwant %s %s", cmd.replaced, registry.ErrorCode(err), err, registry.EInvalid, want)
		}
	}
	c.WaitConverged()
	for _, n := range c.Nodes {
		rec, err := n.Reg.Store().Agreement(a.ID)
		if err != nil || len(rec.Versions) != 2 || rec.Latest().Agreement.Title != "amended" || !n.Reg.Store().IsMember("33") {
			t.Fatalf("%s: after the upgrade, agreement %+v (%v), 33 a member %v; want version 2 amended and 33 admitted", n.ID, rec, err, n.Reg.Store().IsMember("33"))
		}
	}
}
