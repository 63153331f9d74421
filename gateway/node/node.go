// Package node assembles a LaborLink gateway node from its configuration:
// the PKI's mutual TLS, the registry replica (raft), the policy engine, the
// durable store, the audit log, the exchange and its delivery workers, and
// the HTTPS listener that serves the local, peer and registry APIs. It owns
// start-up order and graceful shutdown; the parts decide everything else.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	"github.com/laborlink/laborlink/pki/durable"
)

// Node is a running gateway node.
type Node struct {
	cfg Config
	log *slog.Logger
	id  pki.Identity

	tls      *pki.TLS
	revoked  *revocations
	crls     *crlFiles
	store    *store.Store
	audit    *audit.Log
	auditKey note.Verifier
	registry *registry.Registry
	policy   *policy.Engine
	exchange *exchange.Exchange
	client   *peer.Client
	delivery *delivery.Manager
	metrics  *metrics
	webhook  *webhook.Pusher
	// registryAudit serializes passes of auditRegistryOnce,
	// auditProvincePolicy and the check of the node's own certificate: two
	// at once would both append the events after the same counters or mark.
	registryAudit sync.Mutex

	ln     net.Listener
	server *http.Server
	ops    *http.Server
	opsLn  net.Listener

	// bundleCurrent is set once the policy engine holds the newest
	// federation bundle of the registry log the node held on disk when it
	// started: until then the node makes no decision (decides).
	bundleCurrent atomic.Bool

	// drain is how long Close gives what is in flight; 0 is drainTimeout.
	drain time.Duration

	// closing is set as Close begins, so that /readyz turns traffic away
	// while the API drains the requests in flight.
	closing atomic.Bool
	// down is why a server stopped serving on its own, nil while none has:
	// the node then answers no request on that listener, so /healthz and
	// /readyz fail and an orchestrator restarts it.
	down atomic.Pointer[error]

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
	if err := cfg.CheckFiles(); err != nil {
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
	if err := durable.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	if err := n.openTLS(); err != nil {
		return err
	}
	var err error
	if n.store, err = store.Open(filepath.Join(cfg.DataDir, "node.db"), store.Options{Log: n.log, WorkerKeyFile: cfg.WorkerKey}); err != nil {
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
	// The registry's bundle, from the replica's snapshot, before the API
	// serves: the node is ready, and decides, once the replica hears from
	// the leader, and would otherwise decide with the bundle shipped in the
	// binary, which the federation may have replaced with a stricter one,
	// until Watch's first refresh, a policy.reload later. After a crash the
	// raft log may hold newer bundles than the snapshot: the node then
	// decides nothing until the replica has applied them (watchPolicy).
	replayed := closed(n.registry.PolicyReplayed())
	n.refreshPolicy(ctx)
	n.bundleCurrent.Store(replayed)
	if err := n.openExchange(); err != nil {
		return err
	}
	return n.listen()
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
	local := api.NewHandler(api.MakeSet(api.Services{
		Province: n.cfg.Province, Exchange: n.exchange, Audit: auditing{n.audit, n.auditKey}, Peers: n.client,
		Status: n.status, Submitted: n.metrics.submittedResults, Now: time.Now, DeadLetters: deadLetters{n},
	}))
	mux.Handle("/api/", n.metrics.instrument(jsonBodies(api.OwnProvince(n.cfg.Province, local))))
	peerOpts := []peer.HandlerOption{peer.Logger(n.log), peer.MaxPerProvince(n.cfg.Peer.MaxRequestsPerProvince), peer.MaxBodies(int64(n.cfg.Peer.MaxBodiesMiB) << 20)}
	mux.Handle(peer.Path, n.metrics.instrument(peer.NewHandler(n.exchange, peerOpts...)))
	mux.Handle(peer.AuditPath, n.metrics.instrument(peer.NewAuditHandler(n.cfg.Province, n.audit, peerOpts...)))
	mux.Handle("/v1/registry/", jsonBodies(n.registry.Handler()))
	n.server = apiServer(refuseLapsed(n.recheckClient, mux), cfg, n.log)
	if n.cfg.OpsListen != "" {
		if n.opsLn, err = net.Listen("tcp", n.cfg.OpsListen); err != nil {
			return fmt.Errorf("ops_listen: %w", err)
		}
		n.ops = &http.Server{Handler: n.opsHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: serverErrorLog(n.log)}
	}
	return nil
}

func (n *Node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Go(func() {
		if err := n.server.Serve(tlsListener(n.ln, n.server.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server stopped", "err", err)
			down := fmt.Errorf("the API server (local, peer and registry APIs on %s) stopped: %w", n.ln.Addr(), err)
			n.down.Store(&down)
		}
	})
	if n.ops != nil {
		n.wg.Go(func() {
			if err := n.ops.Serve(n.opsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("ops server stopped", "err", err)
			}
		})
	}
	n.wg.Go(func() { n.watchPolicy(ctx) })
	n.wg.Go(func() { n.joinAndResume(ctx) })
	n.wg.Go(func() { n.metrics.sampleGauges(ctx, n.store, n.webhook) })
	n.wg.Go(func() { n.auditRegistry(ctx, time.Second) })
	if len(n.cfg.TLS.CRLs) > 0 {
		n.wg.Go(func() { n.watchCRLs(ctx, crlCheckInterval) })
	}
	if n.webhook != nil {
		n.wg.Go(func() { n.webhook.Run(ctx) })
	}
	if n.cfg.Inbox.Retention > 0 {
		n.wg.Go(func() { n.pruneInbox(ctx, pruneInterval) })
	}
}

// watchPolicy keeps the policy current: once the registry replica holds
// the bundles of the raft log the node started with (at once, unless it
// restarted after a crash with bundles newer than its snapshot), it puts
// the newest in force and lets the node decide, then refreshes every
// policy.reload. One goroutine refreshes, so an older bundle read before
// the replay is never put in force after a newer one.
func (n *Node) watchPolicy(ctx context.Context) {
	if !n.bundleCurrent.Load() {
		select {
		case <-n.registry.PolicyReplayed():
		case <-ctx.Done():
			return
		}
		n.refreshPolicy(ctx)
		n.bundleCurrent.Store(true)
		n.log.Info("policy: the registry log is replayed; the node decides", "revisions", n.policy.Revisions().String())
	}
	n.policy.Watch(ctx, n.cfg.Policy.Reload, bundles{n.registry.Store()})
}

// refreshPolicy puts in force the federation bundle the registry replica
// holds and the province directory as it is; a layer that does not
// compile leaves the one in force.
func (n *Node) refreshPolicy(ctx context.Context) {
	if err := n.policy.Refresh(ctx, bundles{n.registry.Store()}); err != nil {
		n.log.Warn("policy: keeping the policy in force", "revisions", n.policy.Revisions().String(), "err", err)
	}
}

// decides reports whether the node may make decisions: its registry
// replica holds the federation's state, and the policy engine the newest
// bundle of the raft log the node started with.
func (n *Node) decides() bool {
	return n.registry.Store().Initialized() && n.bundleCurrent.Load()
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
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
	for p := range n.store.Depth() {
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

// drainTimeout is how long Close gives the requests and the delivery
// batches in flight, from when it begins: with raft's snapshot and the
// store's close after it, well within the 30 s every install gives a node
// to stop.
const drainTimeout = 10 * time.Second

// Close shuts down gracefully: fail /readyz, stop taking requests, let
// requests and delivery batches in flight finish (for drainTimeout), close
// raft cleanly, then the store. Requests still in flight when the drain
// time is up are cut, as a batch in flight is: that is a warning, not an
// error, so a node stopped during a slow request stops cleanly. Closing
// twice is harmless.
func (n *Node) Close() error {
	var errs []error
	n.closed.Do(func() {
		n.closing.Store(true)
		drain := n.drain
		if drain == 0 {
			drain = drainTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		deadline, _ := ctx.Deadline()
		// Shutdown closes only the listeners its server was serving: an
		// Open that failed after binding them has served none.
		if n.server != nil {
			errs = append(errs, n.shutdown(ctx, n.server, "api"))
		}
		if n.ln != nil {
			n.ln.Close()
		}
		if n.ops != nil {
			errs = append(errs, n.shutdown(ctx, n.ops, "ops"))
		}
		if n.opsLn != nil {
			n.opsLn.Close()
		}
		if n.cancel != nil {
			n.cancel()
		}
		if n.delivery != nil {
			// A peer that does not answer must not hold the batch in
			// flight, and the shutdown, for the request's 30 s timeout.
			n.delivery.CloseWithin(time.Until(deadline))
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

// shutdown stops srv, the server of listener name, letting its requests
// in flight finish until ctx ends, and then cuts those left.
func (n *Node) shutdown(ctx context.Context, srv *http.Server, name string) error {
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		n.log.Warn("requests still in flight when the drain time was up: cut", "listener", name)
		err = srv.Close()
	}
	return err
}
