// Package devfed runs a development federation on one machine: a generated
// PKI, one node per province (the registry's voters), sample agreements
// approved by both parties, and sample traffic along the whole chain:
// transfers out, confirmations back, a rights-case referral and its updates.
// It is what `laborlink dev` runs, and what end-to-end tests start.
package devfed

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki"
)

// Domain is the development federation's domain.
const Domain = "laborlink.dev"

// Options configure a development federation.
type Options struct {
	// Dir receives the PKI, configs and data. Required.
	Dir string
	// Provinces run a node each; the first is the origin of the sample
	// traffic, the others destinations. Default 51 (Sichuan), 44
	// (Guangdong), 33 (Zhejiang).
	Provinces []string
	// Log receives the nodes' logs.
	Log *slog.Logger
}

// Federation is a running development federation.
type Federation struct {
	Dir       string
	Provinces []string
	Nodes     map[string]*node.Node
	// Certs maps a province to its people's and systems' certificate files.
	Certs map[string]Certs
	// Root is the federation root certificate file.
	Root string
	// Traffic summarizes the sample traffic once Seed has run.
	Traffic Traffic
}

// Certs are one province's client certificates, as files.
type Certs struct {
	Admin, System, Auditor, Operator pki.Leaf
}

// Start creates the PKI and starts the nodes; it returns when every node
// has the registry's state.
func Start(ctx context.Context, opts Options) (*Federation, error) {
	if opts.Dir == "" {
		return nil, errors.New("devfed: Dir is required")
	}
	if len(opts.Provinces) == 0 {
		opts.Provinces = []string{"51", "44", "33"}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	f := &Federation{Dir: opts.Dir, Provinces: opts.Provinces, Nodes: map[string]*node.Node{}, Certs: map[string]Certs{}}
	fed, err := pki.CreateFederation(filepath.Join(opts.Dir, "pki"), Domain, opts.Provinces, pki.FederationOptions{Root: pki.RootOptions{Force: true}})
	if err != nil {
		return nil, fmt.Errorf("devfed: pki: %w", err)
	}
	f.Root = filepath.Join(fed.Root.Dir, pki.RootCertFile)
	cfgs, err := f.configure(fed)
	if err != nil {
		return nil, err
	}
	for _, p := range opts.Provinces {
		n, err := node.Open(ctx, cfgs[p], opts.Log.With("node", "p"+p))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("devfed: node %s: %w", p, err)
		}
		f.Nodes[p] = n
	}
	if err := f.waitReady(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// configure issues every certificate, writes the genesis and a config file
// per node (so an operator can read them), and returns the configs.
func (f *Federation) configure(fed *pki.Federation) (map[string]node.Config, error) {
	type addrs struct{ api, raft string }
	ports := map[string]addrs{}
	g := registry.Genesis{Domain: Domain, Roots: pemCert(fed.Root.Cert.Raw)}
	for _, p := range f.Provinces {
		api, err := freeAddr()
		if err != nil {
			return nil, err
		}
		raftAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		ports[p] = addrs{api, raftAddr}
		ca := fed.CAs[p]
		g.Members = append(g.Members, registry.MemberSpec{Province: p, Name: pki.ProvinceName(p), CACerts: pemCert(ca.Cert.Raw)})
		g.Voters = append(g.Voters, registry.NodeSpec{ID: "p" + p + "/node/gw-1", RaftAddr: raftAddr, APIAddr: api})
		var certs Certs
		for _, c := range []struct {
			kind pki.Kind
			name string
			dst  *pki.Leaf
		}{{pki.KindAdmin, "admin", &certs.Admin}, {pki.KindSystem, "hr", &certs.System}, {pki.KindAuditor, "auditor", &certs.Auditor}, {pki.KindOperator, "ops", &certs.Operator}} {
			leaf, err := ca.Issue(pki.IssueRequest{Kind: c.kind, Name: c.name, Force: true})
			if err != nil {
				return nil, fmt.Errorf("devfed: issue %s of %s: %w", c.kind, p, err)
			}
			*c.dst = *leaf
		}
		f.Certs[p] = certs
	}
	genesis, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	genesisFile := filepath.Join(f.Dir, "genesis.json")
	if err := os.WriteFile(genesisFile, genesis, 0o644); err != nil {
		return nil, err
	}
	cfgs := map[string]node.Config{}
	for _, p := range f.Provinces {
		ca := fed.CAs[p]
		leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: "gw-1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, Force: true})
		if err != nil {
			return nil, fmt.Errorf("devfed: node certificate of %s: %w", p, err)
		}
		cfg := node.DefaultConfig()
		cfg.Province, cfg.Name = p, "gw-1"
		cfg.DataDir = filepath.Join(f.Dir, "p"+p, "data")
		cfg.Listen, cfg.Advertise = ports[p].api, ports[p].api
		cfg.OpsListen = ""
		cfg.Raft.Listen, cfg.Raft.Advertise = ports[p].raft, ports[p].raft
		cfg.Raft.Genesis = genesisFile
		cfg.Raft.HeartbeatTimeout, cfg.Raft.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
		cfg.Raft.StaleAfter = 2 * time.Second
		cfg.TLS = node.TLSConfig{Cert: leaf.CertFile, Key: leaf.KeyFile, Root: filepath.Join(fed.Root.Dir, pki.RootCertFile)}
		cfg.Delivery.MinBackoff, cfg.Delivery.MaxBackoff, cfg.Delivery.BreakerOpen = 50*time.Millisecond, 2*time.Second, 2*time.Second
		cfg.Audit.Key = filepath.Join(f.Dir, "p"+p, "audit.key")
		cfgs[p] = cfg
		out, err := yaml.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(f.Dir, "p"+p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(f.Dir, "p"+p, "node.yaml"), out, 0o644); err != nil {
			return nil, err
		}
	}
	return cfgs, nil
}

// waitReady waits until every node's registry replica is initialized and fresh.
func (f *Federation) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var notReady error
		for p, n := range f.Nodes {
			if err := n.Ready(); err != nil {
				notReady = fmt.Errorf("node %s: %w", p, err)
				break
			}
		}
		if notReady == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devfed: the federation did not become ready: %w", notReady)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is the HTTPS address of a province's node.
func (f *Federation) URL(province string) string { return "https://" + f.Nodes[province].Addr() }

// Close stops every node.
func (f *Federation) Close() error {
	var errs []error
	for _, n := range f.Nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// freeAddr finds a free loopback port. Another process could take it before
// the node binds it; on a development machine that is rare enough.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func rootPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", file)
	}
	return pool, nil
}
