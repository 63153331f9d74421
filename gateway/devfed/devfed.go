// Package devfed runs a development federation: a generated PKI, one node
// per province (the registry's voters), sample agreements approved by both
// parties, and sample traffic along the whole chain: transfers out,
// confirmations back, a rights-case referral and its updates.
//
// Start runs the nodes in this process on loopback; it is what `laborlink
// dev` runs, and what end-to-end tests start. Init only prepares a
// federation directory for nodes that run elsewhere (containers, one host
// each), and ReadLayout plus Connect drive such nodes through their APIs.
package devfed

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/laborlink/laborlink/federation/freeport"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki"
)

// Domain is the development federation's domain.
const Domain = "laborlink.dev"

// DefaultProvinces are 51 (Sichuan), 44 (Guangdong) and 33 (Zhejiang).
var DefaultProvinces = []string{"51", "44", "33"}

// Options configure a development federation run in this process.
type Options struct {
	// Dir receives the PKI, configs and data. Required.
	Dir string
	// Force replaces a federation already in Dir, deleting its PKI and
	// the nodes' data; without it, Start refuses to.
	Force bool
	// Provinces run a node each; the first is the origin of the sample
	// traffic, the others destinations. Default DefaultProvinces.
	Provinces []string
	// Log receives the nodes' logs.
	Log *slog.Logger
	// Tune, if set, adjusts each node's config after the loopback
	// defaults (TuneLoopback): a test's extra settings.
	Tune func(*node.Config)
}

// Federation is a development federation: nodes this process runs (Start)
// or reaches over the network (Connect).
type Federation struct {
	// Layout is the federation directory: provinces, root and certificates.
	Layout
	// Nodes are the nodes this process runs; empty after Connect.
	Nodes map[string]*node.Node
	// Traffic summarizes the sample traffic once Seed has run.
	Traffic Traffic
	// Patience bounds each wait for agreements and deliveries; default 20s.
	Patience time.Duration

	urls, opsURLs map[string]string
}

// Certs are one province's client certificates, as files.
type Certs struct {
	Admin, System, Auditor, Operator pki.Leaf
}

// Start prepares a federation directory for nodes on free loopback ports
// and starts them; it returns when every node has the registry's state.
func Start(ctx context.Context, opts Options) (*Federation, error) {
	if opts.Dir == "" {
		return nil, errors.New("devfed: Dir is required")
	}
	if len(opts.Provinces) == 0 {
		opts.Provinces = DefaultProvinces
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	var addrs []NodeAddr
	for _, p := range opts.Provinces {
		a := NodeAddr{Province: p, Host: "127.0.0.1"}
		var err error
		if a.APIPort, err = freeport.Port(); err != nil {
			return nil, err
		}
		if a.RaftPort, err = freeport.Port(); err != nil {
			return nil, err
		}
		// An ops listener each, so that the probes and /metrics the
		// operator guide describes can be tried here.
		if a.OpsPort, err = freeport.Port(); err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	tune := TuneLoopback
	if opts.Tune != nil {
		tune = func(c *node.Config) { TuneLoopback(c); opts.Tune(c) }
	}
	l, err := Init(InitOptions{Dir: opts.Dir, Nodes: addrs, Force: opts.Force, Tune: tune})
	if err != nil {
		return nil, err
	}
	f := l.federation()
	f.Nodes = map[string]*node.Node{}
	for _, p := range l.Provinces {
		cfg, err := node.LoadConfig(l.Config(p), nil)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("devfed: node %s: %w", p, err)
		}
		n, err := node.Open(ctx, cfg, opts.Log.With("node", "p"+p))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("devfed: node %s: %w", p, err)
		}
		f.Nodes[p] = n
		f.urls[p] = "https://" + n.Addr()
		if a := n.OpsAddr(); a != "" { // unless a Tune turned it off
			f.opsURLs[p] = "http://" + a
		}
	}
	if err := f.waitReady(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// TuneLoopback makes nodes on one machine elect a leader, notice a stale
// replica and retry deliveries within a fraction of the production
// defaults, which are set for links between provinces.
func TuneLoopback(cfg *node.Config) {
	TuneDelivery(cfg)
	cfg.Raft.HeartbeatTimeout, cfg.Raft.ElectionTimeout = 300*time.Millisecond, 300*time.Millisecond
	cfg.Raft.StaleAfter = 2 * time.Second
}

// TuneDelivery shortens delivery retries and the breaker's open time, so a
// peer that comes back gets its records within seconds.
func TuneDelivery(cfg *node.Config) {
	cfg.Delivery.MinBackoff, cfg.Delivery.MaxBackoff, cfg.Delivery.BreakerOpen = 50*time.Millisecond, 2*time.Second, 2*time.Second
}

// Connect returns a Federation that drives the layout's nodes at urls
// (province to https://host:port) through their APIs, for nodes this
// process does not run.
func (l *Layout) Connect(urls map[string]string) (*Federation, error) {
	f := l.federation()
	for _, p := range l.Provinces {
		u, ok := urls[p]
		if !ok {
			return nil, fmt.Errorf("devfed: no address for province %s", p)
		}
		f.urls[p] = u
	}
	return f, nil
}

func (l *Layout) federation() *Federation {
	return &Federation{Layout: *l, urls: map[string]string{}, opsURLs: map[string]string{}}
}

// waitReady waits until every node's registry replica is initialized and
// fresh. It takes a second or two; the limit allows for a machine busy
// with other work (a build, a test run).
func (f *Federation) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
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
func (f *Federation) URL(province string) string { return f.urls[province] }

// OpsURL is the plain-HTTP address of the ops listener (/healthz, /readyz,
// /metrics) of a province's node that this process runs (Start), or "" for
// a node it does not.
func (f *Federation) OpsURL(province string) string { return f.opsURLs[province] }

// Close stops the nodes this process runs.
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
