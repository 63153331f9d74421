// Package node assembles a LaborLink gateway node from its configuration:
// the PKI's mutual TLS, the registry replica (raft), the policy engine, the
// durable store, the audit log, the exchange and its delivery workers, and
// the HTTPS listener that serves the local, peer and registry APIs. It owns
// start-up order and graceful shutdown; the parts decide everything else.
package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki"
)

// Node is a running gateway node.
type Node struct {
	cfg Config
	log *slog.Logger
	id  pki.Identity

	tls      *pki.TLS
	revoked  *revocations
	store    *store.Store
	audit    *audit.Log
	registry *registry.Registry
	policy   *policy.Engine
	exchange *exchange.Exchange
	client   *peer.Client
	delivery *delivery.Manager
	metrics  *metrics
	webhook  *webhook.Pusher

	ln     net.Listener
	server *http.Server
	ops    *http.Server
	opsLn  net.Listener

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// Open builds and starts a node: listeners are bound and the registry has
// started when it returns, so Addr is usable at once.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, revoked: &revocations{crls: pki.NewRevocationList()}}
	if err := n.open(ctx); err != nil {
		n.Close()
		return nil, err
	}
	n.start()
	return n, nil
}

// open builds the parts in dependency order; Close undoes whatever it got to.
func (n *Node) open(ctx context.Context) error {
	cfg := n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	if err := n.openTLS(); err != nil {
		return err
	}
	var err error
	if n.store, err = store.Open(filepath.Join(cfg.DataDir, "node.db"), store.Options{}); err != nil {
		return err
	}
	if n.audit, err = n.openAudit(); err != nil {
		return err
	}
	if n.registry, err = n.openRegistry(); err != nil {
		return err
	}
	n.revoked.reg.Store(n.registry)
	n.metrics = newMetrics()
	if n.policy, err = policy.NewEngine(ctx, policy.FederationBundle(), policy.Config{ProvinceDir: cfg.Policy.ProvinceDir, Logger: n.log, Observe: n.metrics.decided}); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if err := n.openExchange(); err != nil {
		return err
	}
	return n.listen()
}

func (n *Node) openTLS() error {
	c := n.cfg
	kp, err := pki.LoadKeyPair(c.TLS.Cert, c.TLS.Key)
	if err != nil {
		return fmt.Errorf("tls.cert / tls.key: %w", err)
	}
	cert, err := kp.Certificate()
	if err != nil {
		return fmt.Errorf("tls.cert: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("tls.cert: %w", err)
	}
	if n.id, err = pki.IdentityFromCert(leaf); err != nil {
		return fmt.Errorf("tls.cert: %w", err)
	}
	if n.id.Kind != pki.KindNode || n.id.Province != c.Province || n.id.Name != c.Name {
		return fmt.Errorf("tls.cert: the certificate is %s, but the config says node %s of province %s", n.id, c.Name, c.Province)
	}
	rootPEM, err := os.ReadFile(c.TLS.Root)
	if err != nil {
		return fmt.Errorf("tls.root: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return fmt.Errorf("tls.root: %s holds no PEM certificate", c.TLS.Root)
	}
	var issuers []*x509.Certificate
	for _, der := range cert.Certificate[1:] {
		if ca, err := x509.ParseCertificate(der); err == nil {
			issuers = append(issuers, ca)
		}
	}
	for _, f := range c.TLS.CRLs {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("tls.crls: %w", err)
		}
		var loaded bool
		for _, ca := range issuers {
			if n.revoked.crls.AddCRL(data, ca) == nil {
				loaded = true
				break
			}
		}
		if !loaded {
			return fmt.Errorf("tls.crls: %s is not a CRL signed by this node's province CA", f)
		}
	}
	n.tls = &pki.TLS{KeyPair: kp, Verifier: &pki.Verifier{Roots: roots, Revocation: n.revoked, Domain: n.id.Domain}}
	return nil
}

// openAudit opens the audit log, creating its checkpoint key on first start.
func (n *Node) openAudit() (*audit.Log, error) {
	origin := n.id.Domain + "/p" + n.cfg.Province + "/" + n.cfg.Name
	skey, err := os.ReadFile(n.cfg.Audit.Key)
	if errors.Is(err, os.ErrNotExist) {
		var vkey string
		s, v, gerr := audit.GenerateKey(origin)
		if gerr != nil {
			return nil, gerr
		}
		skey, vkey = []byte(s), v
		if err := os.WriteFile(n.cfg.Audit.Key, skey, 0o600); err != nil {
			return nil, fmt.Errorf("audit.key: %w", err)
		}
		if err := os.WriteFile(n.cfg.Audit.Key+".pub", []byte(vkey+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("audit.key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("audit.key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	return audit.Open(n.store.DB(), audit.Config{Origin: origin, Signer: signer, SignInterval: n.cfg.Audit.SignInterval, Logger: n.log})
}

func (n *Node) openRegistry() (*registry.Registry, error) {
	rc := registry.DefaultConfig()
	rc.NodeID = n.id.String()
	rc.DataDir = filepath.Join(n.cfg.DataDir, "raft")
	rc.RaftAddr = n.cfg.Raft.Advertise
	rc.APIAddr = n.cfg.Advertise
	rc.TLS = n.tls
	rc.HeartbeatTimeout = n.cfg.Raft.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.Raft.ElectionTimeout
	rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, rc.HeartbeatTimeout)
	rc.StaleAfter = n.cfg.Raft.StaleAfter
	rc.Logger = n.log
	if n.cfg.Raft.Genesis != "" {
		data, err := os.ReadFile(n.cfg.Raft.Genesis)
		if err != nil {
			return nil, fmt.Errorf("raft.genesis: %w", err)
		}
		var g registry.Genesis
		if err := json.Unmarshal(data, &g); err != nil {
			return nil, fmt.Errorf("raft.genesis %s: %w", n.cfg.Raft.Genesis, err)
		}
		rc.Genesis = &g
		for _, m := range g.Members {
			rc.TrustedProvinces = append(rc.TrustedProvinces, m.Province)
		}
	}
	if rc.Genesis == nil {
		// A joining node learns the members from the registry it receives;
		// until then it accepts the leader from any trusted province.
		rc.TrustedProvinces = n.cfg.Raft.TrustedProvinces
		if len(rc.TrustedProvinces) == 0 {
			rc.TrustedProvinces = pki.Provinces()
		}
	}
	if rc.RaftAddr != n.cfg.Raft.Listen {
		return nil, fmt.Errorf("raft.advertise %s differs from raft.listen %s: not supported yet", rc.RaftAddr, n.cfg.Raft.Listen)
	}
	reg, err := registry.Open(rc)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return reg, nil
}

func (n *Node) openExchange() error {
	signer, err := n.tls.KeyPair.Signer()
	if err != nil {
		return fmt.Errorf("node signer: %w", err)
	}
	var chain [][]byte
	for _, c := range signer.Chain() {
		chain = append(chain, c.Raw)
	}
	d := n.cfg.Delivery
	n.client = peer.NewClient(chain, directory{n.registry.Store()}, n.peerHTTP, peer.BreakerSettings{
		Failures: d.BreakerFailures, Open: d.BreakerOpen, OnStateChange: n.metrics.breakerChanged(n.log),
	})
	notify := &lateNotifier{}
	now := time.Now
	if n.exchange, err = exchange.New(exchange.Deps{
		Province: n.cfg.Province, Signer: signer, Verifier: n.tls.Verifier,
		Agreements: agreements{store: n.registry.Store(), now: now},
		Policy:     n.policy, Store: n.store, Delivery: notify, Audit: n.audit, Log: n.log, Now: now,
		Registered: n.registry.Store().Initialized,
		Stale:      func() bool { return n.registry.Freshness().Stale },
	}); err != nil {
		return err
	}
	obs := observers{n.exchange, n.metrics}
	if n.delivery, err = delivery.NewManager(delivery.Config{BatchSize: d.BatchSize, MinBackoff: d.MinBackoff, MaxBackoff: d.MaxBackoff, Idle: 5 * time.Second}, n.exchange.Outbox(), n.exchange.BatchSender(n.client), obs, n.log); err != nil {
		return err
	}
	notify.m = n.delivery
	return n.openWebhook()
}

// openWebhook prepares the inbox push when a URL is configured.
func (n *Node) openWebhook() error {
	c := n.cfg.Webhook
	if c.URL == "" {
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CA != "" {
		data, err := os.ReadFile(c.CA)
		if err != nil {
			return fmt.Errorf("webhook.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return fmt.Errorf("webhook.ca: %s holds no PEM certificate", c.CA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var err error
	n.webhook, err = webhook.New(webhook.Config{URL: c.URL, Batch: c.Batch, Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, n.store, n.log)
	return err
}

// peerHTTP returns the HTTP client for one peer province: long-lived
// HTTP/2 connections whose handshake accepts only a node of that province.
func (n *Node) peerHTTP(province string) (*http.Client, error) {
	cfg, err := n.tls.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 16, IdleConnTimeout: 5 * time.Minute}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// lateNotifier breaks the construction cycle between exchange and delivery.
type lateNotifier struct{ m *delivery.Manager }

func (l *lateNotifier) Notify(p string) { l.m.Notify(p) }

// observers fans delivery events out to the audit log and metrics.
type observers []delivery.Observer

func (o observers) Delivered(peer string, out []delivery.Outcome, b []store.Queued, d time.Duration) {
	for _, x := range o {
		x.Delivered(peer, out, b, d)
	}
}

func (o observers) Failed(peer string, err error) {
	for _, x := range o {
		x.Failed(peer, err)
	}
}

func (n *Node) listen() error {
	cfg, err := n.tls.ServerConfig(pki.PeerPolicy{})
	if err != nil {
		return err
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	if n.ln, err = net.Listen("tcp", n.cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", n.metrics.instrument(api.NewHandler(api.MakeSet(n.exchange, n.audit, n.status, n.metrics.submittedResults, time.Now))))
	mux.Handle(peer.Path, n.metrics.instrument(peer.NewHandler(n.exchange)))
	mux.Handle("/v1/registry/", n.registry.Handler())
	n.server = &http.Server{Handler: mux, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)}
	if n.cfg.OpsListen != "" {
		if n.opsLn, err = net.Listen("tcp", n.cfg.OpsListen); err != nil {
			return fmt.Errorf("ops_listen: %w", err)
		}
		n.ops = &http.Server{Handler: n.opsHandler(), ReadHeaderTimeout: 5 * time.Second}
	}
	return nil
}

func (n *Node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Go(func() {
		if err := n.server.Serve(tlsListener(n.ln, n.server.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server stopped", "err", err)
		}
	})
	if n.ops != nil {
		n.wg.Go(func() {
			if err := n.ops.Serve(n.opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("ops server stopped", "err", err)
			}
		})
	}
	n.wg.Go(func() { n.policy.Watch(ctx, n.cfg.Policy.Reload, bundles{n.registry.Store()}) })
	n.wg.Go(func() { n.joinAndResume(ctx) })
	n.wg.Go(func() { n.metrics.watchQueues(ctx, n.store) })
	n.wg.Go(func() { n.auditRegistry(ctx, time.Second) })
	if n.webhook != nil {
		n.wg.Go(func() { n.webhook.Run(ctx) })
	}
}

// joinAndResume joins the registry when configured to, then wakes a
// delivery worker for every peer with a queue left from before a restart.
func (n *Node) joinAndResume(ctx context.Context) {
	if len(n.cfg.Raft.Join) > 0 && !n.registry.Store().Initialized() {
		for ctx.Err() == nil {
			jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.registry.Join(jctx, n.cfg.Raft.Join...)
			cancel()
			if err == nil {
				break
			}
			n.log.Warn("joining the registry", "seeds", n.cfg.Raft.Join, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}
	depth, err := n.store.Depth()
	if err != nil {
		n.log.Error("read outbox", "err", err)
		return
	}
	for p := range depth {
		n.delivery.Notify(p)
	}
}

// Addr is the address the HTTPS listener is bound to.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// OpsAddr is the address of the ops listener, or "" when it is off.
func (n *Node) OpsAddr() string {
	if n.opsLn == nil {
		return ""
	}
	return n.opsLn.Addr().String()
}

// Identity is the node's certificate identity.
func (n *Node) Identity() pki.Identity { return n.id }

// Registry is the node's registry replica.
func (n *Node) Registry() *registry.Registry { return n.registry }

// Exchange is the node's record path.
func (n *Node) Exchange() *exchange.Exchange { return n.exchange }

// Close shuts down gracefully: stop taking requests, let delivery batches
// in flight finish, close raft cleanly, then the store. Closing twice is harmless.
func (n *Node) Close() error {
	var errs []error
	n.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if n.server != nil {
			errs = append(errs, n.server.Shutdown(ctx))
		} else if n.ln != nil {
			n.ln.Close()
		}
		if n.ops != nil {
			errs = append(errs, n.ops.Shutdown(ctx))
		} else if n.opsLn != nil {
			n.opsLn.Close()
		}
		if n.cancel != nil {
			n.cancel()
		}
		if n.delivery != nil {
			n.delivery.Close()
		}
		n.wg.Wait()
		if n.registry != nil {
			errs = append(errs, n.registry.Close())
		}
		if n.audit != nil {
			errs = append(errs, n.audit.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
	})
	return errors.Join(errs...)
}
