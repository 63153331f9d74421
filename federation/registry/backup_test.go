package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// restoreInstalledAt restores backup on the leader n and returns the index
// raft installed it at: that of the first snapshot n took past those it
// held before. raft's last_snapshot_index is not it for long: a restore
// changes whom the registry trusts, and 200ms later the node snapshots
// again (snapshotTrust), at whatever entries followed the restore by then
// (its no-op, a read's barrier), which a loaded machine reaches before
// the test reads the stats.
func restoreInstalledAt(t *testing.T, n *regtest.Node, backup []byte) uint64 {
	t.Helper()
	before := snapshotIndices(t, n)
	if err := n.Reg.Restore(ctx(t), bytes.NewReader(backup)); err != nil {
		t.Fatal(err)
	}
	var last uint64
	if len(before) > 0 {
		last = before[len(before)-1]
	}
	after := snapshotIndices(t, n)
	for _, i := range after {
		if i > last {
			return i
		}
	}
	t.Fatalf("%s holds snapshots at %v after the restore, none past %d", n.ID, after, last)
	return 0
}

// snapshotIndices lists the indices of the raft snapshots n keeps on disk,
// lowest first.
func snapshotIndices(t *testing.T, n *regtest.Node) []uint64 {
	t.Helper()
	store, err := raft.NewFileSnapshotStore(n.Config.DataDir, n.Config.RetainSnapshots, io.Discard) // as Open makes it
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil {
		t.Fatalf("snapshots of %s: %v", n.ID, err)
	}
	var out []uint64
	for _, m := range metas {
		out = append(out, m.Index)
	}
	slices.Sort(out)
	return out
}

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
			snap := restoreInstalledAt(t, tt.into, tt.backup)
			restored := st.AppliedIndex()
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

// TestRestoreRebasesTheBackupsIndices: the agreement events and issuances of
// a backup taken from a longer log carry indices this cluster's log has not
// reached. Restored, none may be above the index the restore was installed
// at, which the registry records as RestoredAt on every replica, and the
// next transition must be above it: a node's audit tells restored history
// from new transitions by these indices.
func TestRestoreRebasesTheBackupsIndices(t *testing.T) {
	long := regtest.NewCluster(t, 1, 0, nil)
	short := regtest.NewClusterWithPKI(t, long.PKI, 1, 1, nil)
	ll, sl := long.WaitLeader(), short.WaitLeader()
	s11 := long.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	s51 := long.PKI.Signer(t, "51", pki.KindAdmin, "zhang")
	s44 := long.PKI.Signer(t, "44", pki.KindAdmin, "li")
	submit := func(n *regtest.Node, s *pki.Signer, op registry.Op, body any) *registry.Result {
		t.Helper()
		res, err := n.Reg.Submit(ctx(t), regtest.Signed(t, s, op, body, time.Now()))
		if err != nil || res.Err != nil {
			t.Fatalf("%s on %s: %v, %v", op, n.ID, err, res)
		}
		return res
	}
	for i := range 30 {
		submit(ll, s11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(fmt.Sprint(i))})
	}
	now := time.Now()
	a := regtest.Agreement("AG-51-44-001", "510000", "440000", registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0)))
	v := submit(ll, s51, registry.OpPropose, a).Agreement.Latest()
	approve := registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest}
	submit(ll, s51, registry.OpApprove, approve)
	gw := long.PKI.Issue(t, "11", pki.KindNode, "gw-9")
	submit(ll, s11, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(gw.Cert)})
	var b bytes.Buffer
	if err := ll.Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	if from, into := ll.Reg.Store().AppliedIndex(), sl.Reg.Raft().LastIndex(); from <= into+10 {
		t.Fatalf("the backup is at index %d, the cluster it is restored into at %d: the test needs a longer log", from, into)
	}

	snap := restoreInstalledAt(t, sl, b.Bytes())
	short.WaitConverged()
	st := sl.Reg.Store()
	at := st.RestoredAt()
	if at == 0 || at != st.AppliedIndex() || at != snap {
		t.Fatalf("RestoredAt %d, AppliedIndex %d, raft installed the backup at %d: want all three equal", at, st.AppliedIndex(), snap)
	}
	indices := func(st *registry.Store) []uint64 {
		t.Helper()
		rec, err := st.Agreement(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, ev := range rec.History {
			out = append(out, ev.Index)
		}
		for _, is := range st.Issuances() {
			out = append(out, is.Index)
		}
		for _, p := range st.Policies() {
			out = append(out, p.Index)
		}
		return out
	}
	for _, n := range short.Nodes {
		got := indices(n.Reg.Store())
		if len(got) != 33 || n.Reg.Store().RestoredAt() != at {
			t.Fatalf("%s: RestoredAt %d, restored indices %v; want %d, for 2 events, 1 issuance and 30 policy bundles", n.ID, n.Reg.Store().RestoredAt(), got, at)
		}
		for _, i := range got {
			if i > at {
				t.Errorf("%s: a restored index %d is above the restore's %d (all: %v)", n.ID, i, at, got)
			}
		}
	}

	res := submit(sl, s44, registry.OpApprove, approve)
	rec, err := st.Agreement(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := rec.History[len(rec.History)-1]; last.Index != res.Index || last.Index <= at {
		t.Fatalf("the approval after the restore is event %d (command at %d); the restore was at %d", last.Index, res.Index, at)
	}
	res = submit(sl, s11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte("after")})
	if p := res.Policy; p.Version != 31 || p.Index != res.Index || p.Index <= at {
		t.Fatalf("the bundle published after the restore is version %d at %d (command at %d); want version 31 above the restore's %d", p.Version, p.Index, res.Index, at)
	}
}

// TestSnapshotKeepsPolicyIndex: a snapshot carries each bundle's index, and
// one of a release without the field reads as before, every bundle at 0
// and otherwise the same.
func TestSnapshotKeepsPolicyIndex(t *testing.T) {
	f := newFixture(t)
	for _, c := range []string{"package a", "package b"} {
		f.must(t, f.a11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(c)})
	}
	want := f.s.Policies()
	var snap bytes.Buffer
	if err := f.s.Backup(&snap); err != nil {
		t.Fatal(err)
	}
	older := regtest.WithoutPolicyIndex(t, snap.Bytes())

	tests := []struct {
		name string
		snap []byte
		// noIndex: the bundles read back at index 0, not their own.
		noIndex bool
	}{
		{"this release", snap.Bytes(), false},
		{"a release without the policies' index", older, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := registry.NewStore()
			if err := s.Restore(bytes.NewReader(tt.snap)); err != nil {
				t.Fatal(err)
			}
			got := s.Policies()
			if len(got) != len(want) {
				t.Fatalf("%d policy bundles, want %d", len(got), len(want))
			}
			for i, p := range got {
				w := *want[i]
				if tt.noIndex {
					w.Index = 0
				}
				if p.Index != w.Index || p.Version != w.Version || p.Digest != w.Digest || !p.PublishedAt.Equal(w.PublishedAt) {
					t.Errorf("bundle %d: %+v, want %+v", i, p, w)
				}
			}
		})
	}
}

// TestSnapshotKeepsRestoredAt: a snapshot carries RestoredAt and the
// rebased indices as they are, and one of a release without the field reads
// as before, with no restore.
func TestSnapshotKeepsRestoredAt(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	l := c.WaitLeader()
	s11 := c.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	gw := c.PKI.Issue(t, "11", pki.KindNode, "gw-9")
	if _, err := l.Reg.Submit(ctx(t), regtest.Signed(t, s11, registry.OpCertIssued, registry.IssuedBody{Certificate: pemOf(gw.Cert)}, time.Now())); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := l.Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	if err := l.Reg.Restore(ctx(t), bytes.NewReader(b.Bytes())); err != nil {
		t.Fatal(err)
	}
	at := l.Reg.Store().RestoredAt()
	var snap bytes.Buffer
	if err := l.Reg.Store().Backup(&snap); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(snap.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(doc["state"], &st); err != nil {
		t.Fatal(err)
	}
	delete(st, "restored_at")
	var err error
	if doc["state"], err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	older, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		snap []byte
		want uint64
	}{
		{"this release", snap.Bytes(), at},
		{"a release without restored_at", older, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := registry.NewStore()
			if err := s.Restore(bytes.NewReader(tt.snap)); err != nil {
				t.Fatal(err)
			}
			is := s.Issuances()
			if s.RestoredAt() != tt.want || len(is) != 1 || is[0].Index != at {
				t.Fatalf("RestoredAt %d, issuances %+v; want RestoredAt %d and the issuance at %d", s.RestoredAt(), is, tt.want, at)
			}
		})
	}
}

// TestRestoreWaitsForEveryNodeOnThisRelease: a node of a release before
// command level 5 would drop what a restore records (restored_at,
// restore_id, the bundles' indices) from its snapshots, so a restore is
// refused, naming the node, until every node reports level 5.
func TestRestoreWaitsForEveryNodeOnThisRelease(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		if strings.HasPrefix(cfg.NodeID, "p44/") {
			registry.SetCommandLevel(cfg, 4)
		}
	})
	l := c.WaitLeader()
	var b bytes.Buffer
	if err := l.Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	err := l.Reg.Restore(ctx(t), bytes.NewReader(b.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "registry.restore needs every node on a release that knows it (command level 5)") || !strings.Contains(err.Error(), "p44/") {
		t.Fatalf("restore with a node at level 4: %v; want it refused, naming the node", err)
	}
	if at := l.Reg.Store().RestoredAt(); at != 0 {
		t.Errorf("the refused restore was installed at %d", at)
	}
}

// TestRestoreRefusesABackupThatShutsOutAVoter: a backup whose members do
// not include a voter's province (or list no CA that issued its
// certificate) would have every replica refuse that voter at the raft
// handshake once restored; with enough such voters the registry could
// commit nothing more. The leader refuses it before raft sees it, naming
// the voter, and the registry is unchanged. (From a review of the
// registry.)
func TestRestoreRefusesABackupThatShutsOutAVoter(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	var b bytes.Buffer
	if err := leader.Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["state"].(map[string]any)["members"].(map[string]any), "44")
	without44, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var voter44 *regtest.Node
	for _, n := range c.Nodes {
		if n.Province == "44" {
			voter44 = n
		}
	}
	before := leader.Reg.Store().AppliedIndex()
	err = leader.Reg.Restore(ctx(t), bytes.NewReader(without44))
	if registry.ErrorCode(err) != registry.EConflict || !strings.Contains(fmt.Sprint(err), voter44.ID+": province 44 is not a member in the backup") {
		t.Fatalf("restore of a backup without province 44: %v; want wrong_state naming %s", err, voter44.ID)
	}
	if !leader.Reg.Store().IsMember("44") || leader.Reg.Store().AppliedIndex() != before {
		t.Fatal("the refused restore changed the registry")
	}
	if err := leader.Reg.Restore(ctx(t), bytes.NewReader(b.Bytes())); err != nil {
		t.Fatalf("restore of the backup as taken: %v", err)
	}
}

// TestRestoreRefusesABackupFromBeforeAVotersCA: a province that rotated
// its CA after the backup (the new CA listed, its voter's certificate
// reissued from it, the old CA delisted) has a voter whose certificate no
// CA of the backup issued, though the province is a member there. Once
// restored, every replica would refuse that voter at the raft handshake;
// the leader refuses the backup instead, naming the voter, and the
// registry keeps the rotated CA.
func TestRestoreRefusesABackupFromBeforeAVotersCA(t *testing.T) {
	c := regtest.NewCluster(t, 3, 0, nil)
	var b bytes.Buffer
	if err := c.WaitLeader().Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	v51 := nodeOf(t, c, "51")
	a11 := c.PKI.Admin(t, "11", "wang")
	rotated := listNewCA(t, c, a11, "51")
	reissued := regtest.IssueFrom(t, rotated, pki.KindNode, v51.Leaf.Identity.Name)
	regtest.Reissue(t, v51.Config.TLS.KeyPair, v51.Leaf.CertFile, v51.Leaf.KeyFile, reissued)
	if _, err := c.Client(c.Nodes[0], a11).Submit(ctx(t), registry.OpMemberAdd, regtest.MemberWith("51", rotated)); err != nil {
		t.Fatalf("delisting 51's old CA: %v", err)
	}

	leader := c.WaitLeader()
	before := leader.Reg.Store().AppliedIndex()
	err := leader.Reg.Restore(ctx(t), bytes.NewReader(b.Bytes()))
	want := fmt.Sprintf("%s: the backup lists no CA of province 51 that issued its certificate (serial %x)", v51.ID, reissued.Cert.SerialNumber.Bytes())
	if registry.ErrorCode(err) != registry.EConflict || !strings.Contains(fmt.Sprint(err), want) {
		t.Fatalf("restore of a backup from before 51 rotated its CA: %v; want wrong_state containing %q", err, want)
	}
	if !leader.Reg.Store().ListsCA("51", rotated.Cert) || leader.Reg.Store().AppliedIndex() != before {
		t.Fatal("the refused restore changed the registry")
	}
}
