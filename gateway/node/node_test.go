package node

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/freeport"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/pki"
)

// freeAddr picks a loopback address for a node to bind later.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// singleNode starts a one-province federation: its node is the only voter.
func singleNode(t *testing.T) (*Node, *gatewaytest.PKI) {
	t.Helper()
	p := gatewaytest.NewPKI(t, "51")
	return singleNodeWith(t, p), p
}

// singleNodeWith starts province 51's node, the only one of a federation
// whose members are the PKI's provinces, its configuration changed by tune.
func singleNodeWith(t *testing.T, p *gatewaytest.PKI, tune ...func(*Config)) *Node {
	t.Helper()
	return singleNodeOf(t, p, slices.Sorted(maps.Keys(p.Fed.CAs)), tune...)
}

// singleNodeOf is singleNodeWith with the members named: a province of the
// PKI left out is one the federation root vouches for but the registry does
// not list. The node logs at debug level into a buffer that is scanned for
// personal data once it has closed.
func singleNodeOf(t *testing.T, p *gatewaytest.PKI, members []string, tune ...func(*Config)) *Node {
	t.Helper()
	logs := &gatewaytest.Buffer{}
	t.Cleanup(func() { gatewaytest.NoPersonalData(t, "the node's log", logs.String()) })
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return singleNodeLogging(t, p, members, log, tune...)
}

// singleNodeLogging is singleNodeOf with the node logging to log, for a test
// that waits until the node has logged what it did.
func singleNodeLogging(t *testing.T, p *gatewaytest.PKI, members []string, log *slog.Logger, tune ...func(*Config)) *Node {
	t.Helper()
	leaf := p.Issue("51", pki.KindNode, "gw-1")
	dir := t.TempDir()
	apiAddr, raftAddr := freeAddr(t), freeAddr(t)
	g := registry.Genesis{
		Domain: gatewaytest.Domain,
		Roots:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Fed.Root.Cert.Raw}),
		Voters: []registry.NodeSpec{{ID: "p51/node/gw-1", RaftAddr: raftAddr, APIAddr: apiAddr}},
	}
	for _, m := range members {
		ca, err := p.Fed.CA(m)
		if err != nil {
			t.Fatal(err)
		}
		g.Members = append(g.Members, regtest.MemberWith(m, ca))
	}
	gdata, _ := json.Marshal(g)
	genesis := filepath.Join(dir, "genesis.json")
	if err := os.WriteFile(genesis, gdata, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Province, cfg.Name, cfg.DataDir = "51", "gw-1", filepath.Join(dir, "data")
	cfg.Listen, cfg.Advertise, cfg.OpsListen = apiAddr, apiAddr, freeAddr(t)
	cfg.Raft.Listen, cfg.Raft.Advertise, cfg.Raft.Genesis = raftAddr, raftAddr, genesis
	cfg.Raft.HeartbeatTimeout, cfg.Raft.ElectionTimeout, cfg.Raft.StaleAfter = 100*time.Millisecond, 100*time.Millisecond, time.Second
	cfg.TLS = TLSConfig{Cert: leaf.CertFile, Key: leaf.KeyFile, Root: filepath.Join(p.Fed.Root.Dir, pki.RootCertFile)}
	cfg.Audit.Key = filepath.Join(dir, "audit.key")
	for _, f := range tune {
		f(&cfg)
	}
	n, err := Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for n.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("node not ready: %v", n.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

func TestProbesAndGracefulClose(t *testing.T) {
	n, p := singleNode(t)
	// "Accepted" means durable: the node's file, which holds its outbox,
	// inbox and audit log, is fsync'd at every commit.
	if n.store.DB().NoSync {
		t.Fatal("the node opened its store without fsync")
	}
	// A record with no agreement behind it: denied, counted, decided once.
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(g.Transfer())
	hc := p.Client(p.Issue("51", pki.KindSystem, "hr"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	resp, err := hc.Post("https://"+n.Addr()+"/api/v1/records", "application/json", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("submit without agreement: status %d, want 403", resp.StatusCode)
	}
	// Oversized and malformed records get clear errors and nothing is stored.
	tr := g.Transfer()
	tr.Worker.Name = strings.Repeat("张", 30000)
	big, _ := json.Marshal(tr)
	for name, tc := range map[string]struct {
		body   []byte
		status int
		want   string
	}{
		"oversized":        {big, http.StatusUnprocessableEntity, "more than the limit of 65536"},
		"not json":         {[]byte("{"), http.StatusBadRequest, "not a JSON object"},
		"not json record":  {[]byte(`{"schema":"laborlink.transfer/v1",}`), http.StatusBadRequest, "not a JSON object: decode (offset 34): invalid character"},
		"array":            {[]byte(`[{}]`), http.StatusBadRequest, "not a JSON object"},
		"records not list": {[]byte(`{"records":{}}`), http.StatusBadRequest, "records: decode (offset 0): want an array, not object"},
		"after a batch":    {[]byte(`{"records":[]} {}`), http.StatusBadRequest, "trailing data after the JSON object"},
		"records and more": {[]byte(`{"records":[],"schema":"laborlink.transfer/v1"}`), http.StatusUnprocessableEntity, "records"},
		"unsigned schema":  {[]byte(`{"schema":"laborlink.nothing/v9"}`), http.StatusUnprocessableEntity, "unknown schema"},
	} {
		resp, err := hc.Post("https://"+n.Addr()+"/api/v1/records", "application/json", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s; want %d mentioning %q", name, resp.StatusCode, body, tc.status, tc.want)
		}
	}
	if q := n.store.Depth(); len(q) != 0 {
		t.Errorf("rejected submissions queued something: %v", q)
	}
	metrics := get(t, "http://"+n.OpsAddr()+"/metrics")
	for _, want := range []string{
		`laborlink_submitted_total{outcome="denied",peer="44",type="transfer"} 1`,
		`laborlink_submitted_total{outcome="invalid",peer="unknown",type="unknown"} `,
		`laborlink_policy_decision_seconds_count{cached="false",side="export"} 1`,
		`laborlink_http_request_seconds_count{code="403",path="/api/v1/records"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "go_goroutines"} {
		resp, err := http.Get("http://" + n.OpsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", n.Addr(), time.Second); err == nil {
		t.Error("the API still accepts connections after Close")
	}
	if err := n.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// get reads url, failing the test if it cannot.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestOpenAPIDescribesEveryRoute keeps api/openapi.yaml and the node's
// routes in step: every route of the local, peer and registry APIs is
// described, every described route is one of them, and every described
// route is served (the mux answers neither 404 nor 405 for it, nor the
// local API its JSON 404 for a path it does not serve).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	routes := map[string]bool{"POST " + peer.Path: true, "GET " + peer.AuditPath: true}
	for _, r := range slices.Concat(api.Routes, registry.Routes) {
		routes[r] = true
	}
	for r := range routes {
		if !described[r] {
			t.Errorf("route %s is not described in api/openapi.yaml", r)
		}
	}
	for r := range described {
		if !routes[r] {
			t.Errorf("api/openapi.yaml describes %s, which is no route of the node's APIs", r)
		}
	}

	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindOperator, "ops"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	for route := range described {
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, "{id}", "X")
		req, _ := http.NewRequest(method, "https://"+n.Addr()+path, strings.NewReader("{}"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || strings.HasPrefix(string(body), "404 page not found") || strings.Contains(string(body), "no route of the local API") {
			t.Errorf("described route %s is not served: %d %q", route, resp.StatusCode, body)
		}
	}
}

func TestLoadConfigNamesTheBadKey(t *testing.T) {
	base := `province: "51"
name: gw-1
data_dir: data
tls: {cert: c.pem, key: k.pem, root: r.pem}
raft: {genesis: g.json}
`
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"valid", base, nil, ""},
		{"unknown key", base + "listn: 1.2.3.4:1\n", nil, "listn"},
		{"bad province", strings.Replace(base, `"51"`, `"5"`, 1), nil, "province"},
		{"missing tls", strings.Replace(base, "tls: {cert: c.pem, key: k.pem, root: r.pem}\n", "", 1), nil, "tls.cert"},
		{"bad listen", base + "listen: nowhere\n", nil, "listen"},
		{"batch size", base + "delivery: {batch_size: 5000}\n", nil, "delivery.batch_size"},
		{"webhook url", base + "webhook: {url: \"ftp://x\"}\n", nil, "webhook.url"},
		{"webhook skips", base + "webhook: {max_consecutive_skips: 0}\n", nil, "webhook.max_consecutive_skips"},
		{"env override", base, map[string]string{"LABORLINK_LOG_LEVEL": "loud"}, "log.level"},
		{"env duration", base, map[string]string{"LABORLINK_RAFT_STALE_AFTER": "soon"}, "LABORLINK_RAFT_STALE_AFTER"},
		{"no genesis or join", strings.Replace(base, "raft: {genesis: g.json}\n", "", 1), nil, "raft.genesis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.yaml")
			os.WriteFile(path, []byte(tt.yaml), 0o644)
			cfg, err := LoadConfig(path, lookupIn(tt.env))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !filepath.IsAbs(cfg.TLS.Cert) || cfg.Advertise != cfg.Listen {
					t.Errorf("paths not resolved: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	os.WriteFile(path, []byte("province: \"51\"\nname: gw-1\ndata_dir: d\ntls: {cert: c, key: k, root: r}\nraft: {genesis: g}\nlisten: 127.0.0.1:1\n"), 0o644)
	env := map[string]string{"LABORLINK_LISTEN": "127.0.0.1:2", "LABORLINK_DELIVERY_BATCH_SIZE": "7", "LABORLINK_RAFT_JOIN": "a:1,b:2"}
	cfg, err := LoadConfig(path, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:2" || cfg.Delivery.BatchSize != 7 || len(cfg.Raft.Join) != 2 {
		t.Errorf("overrides not applied: listen %s batch %d join %v", cfg.Listen, cfg.Delivery.BatchSize, cfg.Raft.Join)
	}
}

// TestCertificateRotationIsAudited replaces the node's certificate files
// while it runs: the node presents the new certificate without a restart and
// audits the rotation.
func TestCertificateRotationIsAudited(t *testing.T) {
	n, p := singleNode(t)
	ca, _ := p.Fed.CA("51")
	old := n.certSerial()
	leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: "gw-1", OutDir: filepath.Dir(n.cfg.TLS.Cert), Force: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if leaf.CertFile != n.cfg.TLS.Cert {
		t.Fatalf("issued %s, node reads %s", leaf.CertFile, n.cfg.TLS.Cert)
	}
	want := leaf.Cert.SerialNumber.Text(16)
	if want == old {
		t.Fatal("the new certificate has the old serial")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		es, err := n.audit.Query(context.Background(), audit.Filter{Kind: audit.KindCertificate})
		if err == nil && len(es) == 1 && es[0].Serial == want && es[0].Detail == audit.DetailRotated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation entry for %s: %+v, %v", want, es, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The next handshake presents the new certificate.
	hc := p.Client(p.Issue("51", pki.KindOperator, "ops"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	resp, err := hc.Get("https://" + n.Addr() + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Text(16); got != want {
		t.Errorf("the node presents serial %s, want the rotated %s", got, want)
	}
	// Envelopes and receipts are signed with the new key, and the new chain
	// goes out with them.
	if chain := n.exchange.Chain(); len(chain) == 0 || !bytes.Equal(chain[0], leaf.Cert.Raw) {
		t.Error("the node still signs with the certificate it had before the rotation")
	}
}

// TestNodeJoinsAsNonVoter starts a second node of the province with
// raft.join only: it is admitted, receives the registry and becomes ready.
func TestNodeJoinsAsNonVoter(t *testing.T) {
	first, p := singleNode(t)
	leaf := p.Issue("51", pki.KindNode, "gw-2")
	cfg := first.cfg
	cfg.Name = "gw-2"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen, cfg.OpsListen = freeAddr(t), ""
	cfg.Advertise = cfg.Listen
	cfg.Raft.Listen = freeAddr(t)
	cfg.Raft.Advertise = cfg.Raft.Listen
	cfg.Raft.Genesis, cfg.Raft.Join = "", []string{first.Addr()}
	cfg.TLS.Cert, cfg.TLS.Key = leaf.CertFile, leaf.KeyFile
	cfg.Audit.Key = filepath.Join(t.TempDir(), "audit.key")
	second, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	deadline := time.Now().Add(20 * time.Second)
	for second.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the joining node never received the registry: %v", second.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := first.Registry().Status()
	var found bool
	for _, s := range st.Servers {
		if s.ID == "p51/node/gw-2" {
			found = !s.Voter
		}
	}
	if !found {
		t.Errorf("gw-2 is not a non-voter of the registry: %+v", st.Servers)
	}
}

// TestAuditorIsReadOnly: an auditor certificate reads the audit log and its
// aggregates, and nothing else: no record, no inbox payload, no write.
func TestAuditorIsReadOnly(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	base := "https://" + n.Addr()
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/audit/entries", http.StatusOK},
		{"GET", "/api/v1/audit/stats", http.StatusOK},
		{"GET", "/api/v1/audit/head", http.StatusOK},
		{"POST", "/api/v1/records", http.StatusForbidden},
		{"GET", "/api/v1/records/01ANY", http.StatusForbidden},
		{"GET", "/api/v1/inbox", http.StatusForbidden},
		{"GET", "/api/v1/inbox/01ANY", http.StatusForbidden},
		{"GET", "/api/v1/referrals", http.StatusForbidden},
		{"POST", "/api/v1/policy/eval", http.StatusForbidden},
		{"POST", "/peer/v1/deliver", http.StatusForbidden},
		{"POST", "/v1/registry/apply", http.StatusForbidden},
		{"GET", "/v1/registry/backup", http.StatusForbidden},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(`{"envelopes":[{}],"chain":["AA=="]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("auditor %s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}

// TestLocalAPIServesItsOwnProvinceOnly: certificates of another province,
// whatever their kind, get nothing from the local API.
func TestLocalAPIServesItsOwnProvinceOnly(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	n := singleNodeWith(t, p)
	base := "https://" + n.Addr()
	for _, kind := range []pki.Kind{pki.KindSystem, pki.KindAuditor, pki.KindOperator} {
		hc := p.Client(p.Issue("44", kind, "x"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
		for _, path := range []string{"/api/v1/inbox", "/api/v1/referrals", "/api/v1/audit/entries", "/api/v1/records/01ANY", "/api/v1/status"} {
			if kind == pki.KindAuditor && strings.HasPrefix(path, "/api/v1/audit/") {
				continue // auditors reconcile across provinces: checked below
			}
			resp, err := hc.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "serves province 51") {
				t.Errorf("%s of 44 GET %s: %d %s", kind, path, resp.StatusCode, body)
			}
		}
	}
	auditor := p.Client(p.Issue("44", pki.KindAuditor, "y"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	resp, err := auditor.Get(base + "/api/v1/audit/entries")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("an auditor of 44 reading 51's audit log: %d, want 200 (reconciliation)", resp.StatusCode)
	}
}

func TestMetricsRoutesAreBounded(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/records/01JABC":      "/api/v1/records",
		"/api/v1/records":             "/api/v1/records",
		"/api/v1/audit/proof":         "/api/v1/audit/proof",
		"/api/v1/policy":              "/api/v1/policy",
		"/api/v1/policy/eval":         "/api/v1/policy/eval",
		"/api/v1/deadletters":         "/api/v1/deadletters",
		"/api/v1/deadletters/requeue": "/api/v1/deadletters/requeue",
		"/api/junk-zz":                "other",
		"/api/v1/recordsX":            "other",
		"/peer/v1/deliver":            "/peer/v1/deliver",
		"/peer/v1/audit/entries":      "/peer/v1/audit/entries",
		"/api/v1/audit/export":        "/api/v1/audit/export",
		"/peer/v1/audit":              "other",
		"/api/v1/inbox/01JABC":        "/api/v1/inbox",
		"/api/v1/referrals":           "/api/v1/referrals",
		"/v1/registry/status":         "other",
	} {
		if got := route(path); got != want {
			t.Errorf("route(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestRaftBindsListenAndAdvertisesAdvertise: a node whose raft.listen is a
// wildcard binds it, and raft knows the node by raft.advertise: the leader
// it reports is at that address, not at the wildcard it bound.
func TestRaftBindsListenAndAdvertisesAdvertise(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	var advertised string
	n := singleNodeWith(t, p, func(c *Config) {
		_, port, err := net.SplitHostPort(c.Raft.Advertise)
		if err != nil {
			t.Fatal(err)
		}
		c.Raft.Listen, advertised = net.JoinHostPort("0.0.0.0", port), c.Raft.Advertise
	})
	gatewaytest.Eventually(t, "the node to lead its registry", func() bool { return n.registry.Status().LeaderAddr != "" })
	if got := n.registry.Status().LeaderAddr; got != advertised {
		t.Errorf("the node reports its leader at %q, want raft.advertise %q", got, advertised)
	}
	// Bound to every interface, not only to the advertised 127.0.0.1.
	_, port, _ := net.SplitHostPort(advertised)
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", port), 5*time.Second)
	if err != nil {
		t.Fatalf("raft port on another loopback address: %v; want raft.listen's wildcard bound", err)
	}
	c.Close()
}
