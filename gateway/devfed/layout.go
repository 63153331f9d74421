package devfed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/durable"
)

// A federation directory, as Init writes it. Each province's directory is
// self-contained, so a container or host mounts only its own province's
// directory and never sees the CA keys or another province's key:
//
//	D/pki/root/          the federation root CA, key included: keep D private
//	D/pki/p51/           Sichuan's CA and its people's and systems' certificates
//	D/genesis.json       the registry's founding document
//	D/p51/node.yaml      node config; every path in it is relative to D/p51
//	D/p51/genesis.json   a copy, for the node
//	D/p51/tls/           node-gw-1.pem, node-gw-1-key.pem and the root, root.pem
//	D/p51/data/          created by the node: store, audit log, raft
const (
	// GenesisFile is the registry's genesis, at the top and in each province's directory.
	GenesisFile = "genesis.json"
	// ConfigFile is a node's config in its province's directory.
	ConfigFile = "node.yaml"
	// NodeName is the name of every development node within its province.
	NodeName = "gw-1"
)

// Default ports of a node whose NodeAddr leaves them zero.
const (
	DefaultAPIPort  = 8443
	DefaultRaftPort = 8300
)

// NodeAddr places one province's node.
type NodeAddr struct {
	// Province is the 2-digit province code.
	Province string
	// Host is the name the node listens on and other nodes dial: a compose
	// service name ("p51"), a pod's DNS name, or 127.0.0.1. The node binds
	// it, so it must resolve to the node's own address where the node runs.
	Host string
	// APIPort and RaftPort default to DefaultAPIPort and DefaultRaftPort.
	APIPort, RaftPort int
	// OpsPort, if set, is the port of the node's ops listener on Host, in
	// place of InitOptions.OpsListen: nodes that share a host (Start's,
	// on loopback) need a port each.
	OpsPort int
}

func (a NodeAddr) api() string  { return net.JoinHostPort(a.Host, strconv.Itoa(a.APIPort)) }
func (a NodeAddr) raft() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.RaftPort)) }
func (a NodeAddr) ops() string  { return net.JoinHostPort(a.Host, strconv.Itoa(a.OpsPort)) }

// InitOptions say what federation directory Init prepares.
type InitOptions struct {
	// Dir receives the federation. Required.
	Dir string
	// Nodes are the provinces' nodes, each a registry voter; the first
	// province is the origin of the sample traffic. At least two.
	Nodes []NodeAddr
	// OpsListen is the ops listener (/healthz, /readyz, /metrics) of every
	// node without an OpsPort; empty turns it off.
	OpsListen string
	// Force replaces a federation already in Dir: its PKI, genesis, and the
	// listed provinces' configs and data. Without it Init refuses.
	Force bool
	// Tune adjusts each node's config before it is written (timeouts).
	Tune func(*node.Config)
}

// ErrOptions marks options Init can make no federation of: the caller's
// mistake, not the file system's.
var ErrOptions = errors.New("devfed: invalid options")

// Layout is a prepared federation directory: where its files are.
type Layout struct {
	Dir       string
	Provinces []string
	// Root is the federation root certificate file.
	Root string
	// Certs maps a province to its people's and systems' certificate files.
	Certs map[string]Certs
}

// ProvinceDir is the directory a province's node runs from.
func (l *Layout) ProvinceDir(province string) string { return filepath.Join(l.Dir, "p"+province) }

// pkiDir holds the federation's CAs: the root's directory and each
// province's, as pki.CreateFederation lays them out.
func (l *Layout) pkiDir() string { return filepath.Join(l.Dir, "pki") }

// CADir is province's CA directory, the --ca of `laborlink pki issue`.
func (l *Layout) CADir(province string) string {
	return pki.ProvinceCADir(l.pkiDir(), province)
}

// nodeTLSDir holds a province's node certificate, its key and the root.
func (l *Layout) nodeTLSDir(province string) string {
	return filepath.Join(l.ProvinceDir(province), tlsDirName)
}

// tlsDirName is nodeTLSDir within the province's directory.
const tlsDirName = "tls"

// Config is the config file of a province's node.
func (l *Layout) Config(province string) string {
	return filepath.Join(l.ProvinceDir(province), ConfigFile)
}

// clientLeaves are the certificates Init issues to each province's people
// and systems, in the order Certs lists them.
var clientLeaves = []struct {
	kind pki.Kind
	name string
	dst  func(*Certs) *pki.Leaf
}{
	{pki.KindAdmin, "admin", func(c *Certs) *pki.Leaf { return &c.Admin }},
	{pki.KindSystem, "hr", func(c *Certs) *pki.Leaf { return &c.System }},
	{pki.KindAuditor, "auditor", func(c *Certs) *pki.Leaf { return &c.Auditor }},
	{pki.KindOperator, "ops", func(c *Certs) *pki.Leaf { return &c.Operator }},
}

// Init prepares a federation directory without starting anything: the PKI,
// the genesis, and per province a node config, its node certificate and a
// copy of the root and genesis, plus the client certificates (admin,
// system, auditor, operator) of every province.
//
// Options that make no federation, nodes included that would refuse the
// configs Init gave them, are refused with an error wrapping ErrOptions
// before anything is written.
func Init(opts InitOptions) (*Layout, error) {
	configs, err := opts.check()
	if err != nil {
		return nil, err
	}
	l := &Layout{Dir: opts.Dir, Certs: map[string]Certs{}}
	for _, n := range opts.Nodes {
		l.Provinces = append(l.Provinces, n.Province)
	}
	if err := l.clear(opts.Force); err != nil {
		return nil, err
	}
	fed, err := pki.CreateFederation(l.pkiDir(), Domain, l.Provinces, pki.FederationOptions{Root: pki.RootOptions{Force: opts.Force}})
	if err != nil {
		return nil, fmt.Errorf("devfed: pki: %w", err)
	}
	l.Root = filepath.Join(fed.Root.Dir, pki.RootCertFile)
	g := registry.Genesis{Domain: Domain, Roots: pemCert(fed.Root.Cert.Raw)}
	for _, n := range opts.Nodes {
		ca := fed.CAs[n.Province]
		g.Members = append(g.Members, registry.MemberSpec{Province: n.Province, Name: pki.ProvinceName(n.Province), CACerts: pemCert(ca.Cert.Raw)})
		g.Voters = append(g.Voters, registry.NodeSpec{ID: "p" + n.Province + "/node/" + NodeName, RaftAddr: n.raft(), APIAddr: n.api()})
		var certs Certs
		for _, c := range clientLeaves {
			leaf, err := ca.Issue(pki.IssueRequest{Kind: c.kind, Name: c.name, Force: opts.Force})
			if err != nil {
				return nil, fmt.Errorf("devfed: issue %s of %s: %w", c.kind, n.Province, err)
			}
			*c.dst(&certs) = *leaf
		}
		l.Certs[n.Province] = certs
	}
	genesis, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, err
	}
	for i, n := range opts.Nodes {
		if err := l.writeNode(fed, n, configs[i], genesis, opts.Force); err != nil {
			return nil, fmt.Errorf("devfed: node of %s: %w", n.Province, err)
		}
	}
	// The top genesis is what ReadLayout, and so an init step with --keep,
	// takes for a federation: written last, it is there only once every
	// node's directory is (on disk: each file is synced with its directory
	// before the next is written), and an init cut short is not kept.
	if err := durable.WriteFile(filepath.Join(l.Dir, GenesisFile), genesis, 0o644); err != nil {
		return nil, err
	}
	return l, nil
}

// check fills in the nodes' default ports and returns each node's config,
// every one of which its node accepts: a federation whose nodes refuse to
// start is worse than none, since an init step that keeps what it finds
// (--keep) would keep it.
func (o *InitOptions) check() ([]node.Config, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: a directory is required", ErrOptions)
	}
	if len(o.Nodes) < 2 {
		return nil, fmt.Errorf("%w: a federation needs at least two provinces", ErrOptions)
	}
	seen := map[string]bool{}
	configs := make([]node.Config, len(o.Nodes))
	for i := range o.Nodes {
		n := &o.Nodes[i]
		if !pki.ValidProvince(n.Province) {
			return nil, fmt.Errorf("%w: %q is not a 2-digit province code (e.g. 51 for Sichuan)", ErrOptions, n.Province)
		}
		if seen[n.Province] {
			return nil, fmt.Errorf("%w: province %s is listed twice", ErrOptions, n.Province)
		}
		seen[n.Province] = true
		if n.Host == "" {
			return nil, fmt.Errorf("%w: province %s has no host name", ErrOptions, n.Province)
		}
		if n.APIPort == 0 {
			n.APIPort = DefaultAPIPort
		}
		if n.RaftPort == 0 {
			n.RaftPort = DefaultRaftPort
		}
		configs[i] = nodeConfig(*n, o.OpsListen, o.Tune)
		if err := configs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: the node of %s would refuse its config: %w", ErrOptions, n.Province, err)
		}
	}
	return configs, nil
}

// clear refuses to touch an existing federation without force, and with
// force removes what Init is about to write, old node data included: a
// node's raft state belongs to the genesis it was started with.
func (l *Layout) clear(force bool) error {
	existing := []string{filepath.Join(l.Dir, GenesisFile), l.pkiDir()}
	for _, p := range l.Provinces {
		existing = append(existing, l.ProvinceDir(p))
	}
	for _, path := range existing {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("devfed: %w", err)
		}
		if !force {
			return fmt.Errorf("devfed: %s already holds a federation (%s exists); pass --force to replace it, which deletes its PKI and the nodes' data", l.Dir, path)
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("devfed: replace %s: %w", path, err)
		}
	}
	return durable.MkdirAll(l.Dir, 0o700)
}

// nodeConfig is the config of n's node, every path in it relative to the
// province's directory.
func nodeConfig(n NodeAddr, opsListen string, tune func(*node.Config)) node.Config {
	certFile, keyFile := pki.LeafFiles(pki.KindNode, NodeName)
	cfg := node.DefaultConfig()
	cfg.Province, cfg.Name = n.Province, NodeName
	cfg.DataDir = "data"
	cfg.Listen, cfg.Advertise = n.api(), n.api()
	cfg.OpsListen = opsListen
	if n.OpsPort != 0 {
		cfg.OpsListen = n.ops()
	}
	cfg.Raft.Listen, cfg.Raft.Advertise = n.raft(), n.raft()
	cfg.Raft.Genesis = GenesisFile
	cfg.TLS = node.TLSConfig{Cert: filepath.Join(tlsDirName, certFile), Key: filepath.Join(tlsDirName, keyFile), Root: filepath.Join(tlsDirName, pki.RootCertFile)}
	cfg.Audit.Key = "audit.key"
	if tune != nil {
		tune(&cfg)
	}
	return cfg
}

// writeNode writes a province's self-contained node directory, cfg its
// node's config.
func (l *Layout) writeNode(fed *pki.Federation, n NodeAddr, cfg node.Config, genesis []byte, force bool) error {
	dir, tlsDir := l.ProvinceDir(n.Province), l.nodeTLSDir(n.Province)
	if err := durable.MkdirAll(tlsDir, 0o700); err != nil {
		return err
	}
	// The IP SAN serves tools that check host names; nodes verify identities.
	if _, err := fed.CAs[n.Province].Issue(pki.IssueRequest{Kind: pki.KindNode, Name: NodeName, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, OutDir: tlsDir, Force: force}); err != nil {
		return fmt.Errorf("node certificate: %w", err)
	}
	root, err := os.ReadFile(l.Root)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(tlsDir, pki.RootCertFile), root, 0o644); err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(dir, GenesisFile), genesis, 0o644); err != nil {
		return err
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Node %s of province %s (%s), written by `laborlink dev`.\n# Paths are relative to this file's directory. docs/configuration.md lists every setting.\n", NodeName, n.Province, pki.ProvinceName(n.Province))
	return durable.WriteFile(filepath.Join(dir, ConfigFile), append([]byte(header), out...), 0o644)
}

// ReadLayout finds the files of a federation directory Init prepared, to
// talk to its nodes wherever they run.
func ReadLayout(dir string) (*Layout, error) {
	data, err := os.ReadFile(filepath.Join(dir, GenesisFile))
	if err != nil {
		return nil, fmt.Errorf("devfed: %s is not a federation directory: %w", dir, err)
	}
	var g registry.Genesis
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("devfed: %s: %w", filepath.Join(dir, GenesisFile), err)
	}
	l := &Layout{Dir: dir, Certs: map[string]Certs{}}
	l.Root = filepath.Join(l.pkiDir(), "root", pki.RootCertFile)
	for _, m := range g.Members {
		l.Provinces = append(l.Provinces, m.Province)
		var certs Certs
		for _, c := range clientLeaves {
			certFile, keyFile := pki.LeafFiles(c.kind, c.name)
			caDir := l.CADir(m.Province)
			*c.dst(&certs) = pki.Leaf{CertFile: filepath.Join(caDir, certFile), KeyFile: filepath.Join(caDir, keyFile)}
		}
		l.Certs[m.Province] = certs
	}
	return l, nil
}
