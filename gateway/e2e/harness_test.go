package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
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
	t   *testing.T
	log *slog.Logger
	// logs holds what every node logged.
	logs *gatewaytest.Buffer
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
	f := &federation{Federation: df, t: t, log: log, logs: logs}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close the federation's nodes: %v", err)
		}
		gatewaytest.NoPersonalData(t, "the logs of the federation's nodes", logs.String())
	})
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
	res, err := f.SubmitResults(context.Background(), province, recs...)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// sendDelivered submits recs to province's node as its system, requires
// each accepted, and waits until each is delivered with a receipt.
func (f *federation) sendDelivered(province string, recs ...any) []exchange.SubmitResult {
	f.t.Helper()
	res := f.submit(province, recs...)
	ids := make([]string, len(res))
	for i, r := range res {
		if r.Outcome != exchange.OutcomeAccepted {
			f.t.Fatalf("record %d: %+v; want it accepted", i, r)
		}
		ids[i] = r.EnvelopeID
	}
	if err := f.WaitDelivered(context.Background(), province, ids); err != nil {
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
	cfg, err := node.LoadConfig(f.Config(province), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cfg
}

// nodeCert is province's node certificate, as its node presents it.
func (f *federation) nodeCert(province string) *x509.Certificate {
	f.t.Helper()
	return f.nodeSigner(province).Chain()[0]
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

// inboxItem reads the item of envelopeID in province's inbox, as its
// system does.
func (f *federation) inboxItem(province, envelopeID string) store.Incoming {
	f.t.Helper()
	var it store.Incoming
	if err := f.system(province).Get(context.Background(), "/api/v1/inbox/"+envelopeID, &it); err != nil {
		f.t.Fatal(err)
	}
	return it
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

// nodeSigner is province's node key and chain, as its node signs with.
func (f *federation) nodeSigner(province string) *pki.Signer {
	f.t.Helper()
	cfg := f.config(province)
	s, err := pki.LoadSigner(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// mtlsClient is an HTTP client over mutual TLS presenting the certificate
// in certFile with keyFile, and accepting only province's node. Each client
// has its own connections, so its certificate is presented in a handshake
// of its own.
func (f *federation) mtlsClient(certFile, keyFile, province string) *http.Client {
	f.t.Helper()
	t, err := f.ClientTLS(pki.Leaf{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		f.t.Fatal(err)
	}
	cfg, err := t.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
	if err != nil {
		f.t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	f.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// apiOver is a plain HTTP client of a node's local API, for what
// api.Client turns into errors: an answer's status and body as sent.
type apiOver struct {
	t    *testing.T
	base string
	http *http.Client
}

// httpAs is a plain HTTP client of province's node presenting leaf.
func (f *federation) httpAs(province string, leaf pki.Leaf) *apiOver {
	f.t.Helper()
	return &apiOver{t: f.t, base: f.URL(province), http: f.mtlsClient(leaf.CertFile, leaf.KeyFile, province)}
}

// do sends the request and returns the answer's status and body.
func (a *apiOver) do(method, path string, body []byte) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// errorAnswer reads an error answer of the local API.
func errorAnswer(t *testing.T, body []byte) api.ErrorBody {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("the answer is not an error body: %v: %.300s", err, body)
	}
	return e
}

// receiptOf decodes a signed receipt.
func receiptOf(t *testing.T, raw json.RawMessage) contracts.Receipt {
	t.Helper()
	var r contracts.Receipt
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("receipt %s: %v", raw, err)
	}
	return r
}
