package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// closedCorridor is a federation bundle stricter than the shipped one: it
// lets no transfer cross, under any agreement.
const closedCorridor = `package laborlink.federation

problems contains problem(i, a, "transfers_closed", "carries no transfer while the federation reviews the corridor") if {
	input.record_type == "transfer"
	some i, a in input.agreements
}
`

// TestACrashedNodeDecidesWithTheBundleItsLogHolds: a node that crashed
// after its registry applied a stricter bundle, before any snapshot held
// it, restarts from an older snapshot whose bundle lets the record
// through; raft applies the log past it only once a leader answers. The
// node's first decision after the restart is the stricter bundle's: until
// its replica has applied the bundle, it decides nothing ("unavailable,
// retry") and is not ready.
func TestACrashedNodeDecidesWithTheBundleItsLogHolds(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	n := singleNodeWith(t, p, func(c *Config) { c.Policy.Reload = time.Hour })
	ctx := context.Background()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 5, Today: registry.DayOf(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	approveAgreement(t, n, p, g)
	doc, _ := json.Marshal(g.Transfer())
	system := p.Issue("51", pki.KindSystem, "hr")
	sysID := pki.Identity{Domain: gatewaytest.Domain, Province: "51", Kind: pki.KindSystem, Name: "hr"}
	if dry, err := n.exchange.Evaluate(ctx, sysID, doc); err != nil || dry.Decision == nil || !dry.Decision.Allow {
		t.Fatalf("the shipped bundle should let the transfer through, for the stricter one to matter: %+v, %v", dry, err)
	}

	published := publishBundle(t, n, p, closedCorridor)
	cfg := n.cfg
	crash(t, n)
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(cfg.DataDir, "raft"), 100, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.Index >= published {
			t.Fatalf("snapshot %s (index %d) holds the bundle published at index %d: the restart would not replay it, and this test would not test the replay", m.ID, m.Index, published)
		}
	}

	n2, err := Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	hc := p.Client(system, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	var status int
	var body string
	pkitest.Eventually(t, 20*time.Second, "the restarted node to decide on the record", func() bool {
		// Ready asked before the record is sent: asked after, it may have
		// become ready while the record was answered.
		ready := n2.Ready() == nil
		status, body = submitRecord(t, hc, n2.Addr(), doc)
		if status != http.StatusServiceUnavailable {
			return true
		}
		if ready {
			t.Fatalf("the node was ready but answers the record %d: %s", status, body)
		}
		return false
	})
	if status != http.StatusForbidden || !strings.Contains(body, "transfers_closed") {
		t.Fatalf("the first decision after the crash: %d %s; want the record denied by the bundle published before it (transfers_closed)", status, body)
	}
	if got := n2.policy.Revisions(); got.BundleVersion != 1 {
		t.Errorf("the restarted node decides with %s; want the registry's bundle v1", got)
	}
}

// approveAgreement puts g's agreement in force between the provinces of
// the single node n: proposed by the origin's admin, approved by both.
func approveAgreement(t *testing.T, n *Node, p *gatewaytest.PKI, g *synth.Generator) {
	t.Helper()
	a := g.Agreement()
	a.Origin.Division, a.Destination.Division = "510000", "440000"
	for i, prov := range []string{"51", "44"} {
		admin := p.Signer(p.Issue(prov, pki.KindAdmin, "admin-"+prov))
		if i == 0 {
			submitCommand(t, n, admin, registry.OpPropose, a)
		}
		r, err := n.registry.Store().Agreement(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := r.Pending()
		if v == nil {
			t.Fatalf("agreement %s has no version awaiting approval", a.ID)
		}
		submitCommand(t, n, admin, registry.OpApprove, registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest})
	}
}

// publishBundle publishes the shipped bundle with extra, one more file of
// its package, as a steward admin, and returns the index it was applied at.
func publishBundle(t *testing.T, n *Node, p *gatewaytest.PKI, extra string) uint64 {
	t.Helper()
	files := maps.Clone(policy.FederationBundle().Files)
	files["extra.rego"] = extra
	content, err := policy.Layer{Files: files}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "steward"))
	return submitCommand(t, n, admin, registry.OpPolicyPublish, registry.PolicyBody{Content: content}).Index
}

// submitCommand has n's registry apply a command signed by s, and requires
// it applied.
func submitCommand(t *testing.T, n *Node, s *pki.Signer, op registry.Op, body any) *registry.Result {
	t.Helper()
	res, err := n.registry.Submit(context.Background(), regtest.Signed(t, s, op, body, time.Now()))
	if err != nil || res.Err != nil {
		t.Fatalf("%s: %v, %+v", op, err, res)
	}
	return res
}

// crash stops n as a crash would leave its registry: raft stops without
// the snapshot a clean stop takes, so the log past the last snapshot is
// applied again only once a leader answers. The rest of the node closes.
func crash(t *testing.T, n *Node) {
	t.Helper()
	if err := n.registry.Raft().Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	n.Close()
}

// submitRecord posts doc to the node's local API and returns the status
// and body of the answer.
func submitRecord(t *testing.T, hc *http.Client, addr string, doc []byte) (int, string) {
	t.Helper()
	resp, err := hc.Post("https://"+addr+"/api/v1/records", "application/json", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
