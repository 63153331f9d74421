package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// federation is a development federation of 51 (the origin of the
// agreements), 44 and 33, run by this test process, with an agreement in
// force from 51 to each of the others.
type federation struct {
	*devfed.Federation
	t      *testing.T
	layout *devfed.Layout
	log    *slog.Logger
	// gens holds, by destination, the generator of records that travel
	// from 51 under that destination's agreement.
	gens map[string]*synth.Generator
}

// start starts the federation, its nodes' configs changed by tune (nil for
// none), and agrees its agreements. Every node logs at debug level into
// one buffer, which is scanned for ID and mobile numbers once the nodes
// have stopped.
func start(t *testing.T, tune func(*node.Config)) *federation {
	t.Helper()
	ctx := context.Background()
	logs := &gatewaytest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	df, err := devfed.Start(ctx, devfed.Options{Dir: t.TempDir(), Log: log, Tune: tune})
	if err != nil {
		t.Fatal(err)
	}
	f := &federation{Federation: df, t: t, log: log}
	t.Cleanup(func() {
		f.Close()
		gatewaytest.NoPersonalData(t, "the logs of the federation's nodes", logs.String())
	})
	if f.layout, err = devfed.ReadLayout(df.Dir); err != nil {
		t.Fatal(err)
	}
	if f.gens, err = df.Agree(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// client is a local-API client of province's node presenting leaf.
func (f *federation) client(province string, leaf pki.Leaf) *api.Client {
	f.t.Helper()
	cl, err := f.APIClient(province, leaf)
	if err != nil {
		f.t.Fatal(err)
	}
	return cl
}

// system is the client of province's provincial business system.
func (f *federation) system(province string) *api.Client {
	f.t.Helper()
	return f.client(province, f.Certs[province].System)
}

// submit sends records to province's node as its system and returns the
// answer for each.
func (f *federation) submit(province string, recs ...any) []exchange.SubmitResult {
	f.t.Helper()
	docs := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		var err error
		if docs[i], err = json.Marshal(r); err != nil {
			f.t.Fatal(err)
		}
	}
	res, err := f.system(province).Submit(context.Background(), docs...)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// stop closes province's node, as a crash of its host would leave it
// unreachable; restart brings it back on the same data and addresses.
func (f *federation) stop(province string) {
	f.t.Helper()
	if err := f.Nodes[province].Close(); err != nil {
		f.t.Fatalf("stop node %s: %v", province, err)
	}
}

// restart opens province's node again from its config and data directory
// and waits until it is ready.
func (f *federation) restart(province string) {
	f.t.Helper()
	cfg := f.config(province)
	n, err := node.Open(context.Background(), cfg, f.log.With("node", "p"+province))
	if err != nil {
		f.t.Fatalf("restart node %s: %v", province, err)
	}
	f.Nodes[province] = n
	gatewaytest.Eventually(f.t, "node "+province+" ready after its restart", func() bool { return n.Ready() == nil })
}

// config is province's node config as its file says.
func (f *federation) config(province string) node.Config {
	f.t.Helper()
	cfg, err := node.LoadConfig(f.layout.Config(province), func(string) string { return "" })
	if err != nil {
		f.t.Fatal(err)
	}
	return cfg
}

// nodeCert is province's node certificate, as its node presents it.
func (f *federation) nodeCert(province string) *x509.Certificate {
	f.t.Helper()
	c, err := tls.LoadX509KeyPair(f.config(province).TLS.Cert, f.config(province).TLS.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Leaf
}

// nodeStatus is what `laborlink status` shows of province's node, read as
// its operator.
func (f *federation) nodeStatus(province string) node.Status {
	f.t.Helper()
	raw, err := f.client(province, f.Certs[province].Operator).Status(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var st node.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// waitArrived waits until the envelope is in province's inbox.
func (f *federation) waitArrived(province, envelopeID string) {
	f.t.Helper()
	cl := f.system(province)
	gatewaytest.Eventually(f.t, "envelope "+envelopeID+" in "+province+"'s inbox", func() bool {
		var it store.Incoming
		return cl.Get(context.Background(), "/api/v1/inbox/"+envelopeID, &it) == nil
	})
}

// inboxAfter reads province's inbox after the cursor to its end, as its
// system does.
func (f *federation) inboxAfter(province string, after uint64) []store.Incoming {
	f.t.Helper()
	cl := f.system(province)
	var items []store.Incoming
	for {
		page, err := cl.Inbox(context.Background(), after, 100)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(page.Items) == 0 {
			return items
		}
		items, after = append(items, page.Items...), page.Next
	}
}
