package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/laborlink/laborlink/gateway/webhook"
)

func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener { return tls.NewListener(ln, cfg) }

// opsHandler serves probes and metrics without client certificates: they
// reveal no record and no personal data.
func (n *Node) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := n.healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := n.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

// errShuttingDown is why a closing node is not ready: Close has begun and
// the API is draining the requests in flight.
var errShuttingDown = errors.New("shutting down: the node is draining the requests in flight and takes no new traffic")

// healthy reports why the node cannot serve at all: its API server stopped
// on its own (Close stopping it is no failure), or its store failed (a
// commit failed: the store takes no reads or writes until the node is
// restarted and reads its file from disk again).
func (n *Node) healthy() error {
	if err := n.down.Load(); err != nil {
		return *err
	}
	return n.store.Failed()
}

// errReplaying is why a node that restarted after a crash is not ready
// while its registry replica has not applied the policy bundles of its
// raft log: it decides nothing until then (Node.decides).
var errReplaying = errors.New("policy: the registry log this node holds on disk holds a federation bundle past its last snapshot, which the replica applies once the leader answers; the node decides nothing until then")

// Ready reports why the node should not take traffic: its API server
// stopped or its store failed, it is shutting down, its audit log's
// storage is damaged (it signs no head, so no flow from here can be
// checked: audit.Log.Damaged), its registry replica has no state or is
// stale, or the policy in force is older than the bundle of the registry
// log the node started with.
func (n *Node) Ready() error {
	if err := n.healthy(); err != nil {
		return err
	}
	if n.closing.Load() {
		return errShuttingDown
	}
	if err := n.audit.Damaged(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := n.registry.Ready(); err != nil {
		return err
	}
	if !n.bundleCurrent.Load() {
		return errReplaying
	}
	return nil
}

// Status is what `laborlink status` shows an operator.
type Status struct {
	Identity  string            `json:"identity"`
	Ready     string            `json:"ready"`
	Registry  any               `json:"registry"`
	Policy    any               `json:"policy"`
	Queues    map[string]int    `json:"queues"`
	Peers     any               `json:"peers"`
	Breakers  map[string]string `json:"breakers"`
	AuditSize int64             `json:"audit_size"`
	// Webhook is the inbox push to the provincial system, when configured.
	Webhook *webhook.State `json:"webhook,omitempty"`
	// DeadLetters counts, per peer that has any, the envelopes delivery
	// gave up on (`laborlink deadletters list`).
	DeadLetters map[string]int `json:"dead_letters,omitempty"`
}

func (n *Node) status(context.Context) any {
	st := Status{Identity: n.id.URI(), Ready: "ready", Registry: n.registry.Status(), Policy: n.policy.Revisions(), Peers: n.delivery.Peers(), Breakers: map[string]string{}, AuditSize: n.audit.Size()}
	if err := n.Ready(); err != nil {
		st.Ready = err.Error()
	}
	st.Queues, st.DeadLetters = n.store.Depth(), n.store.DeadLetterCounts()
	for p, s := range n.client.BreakerState() {
		st.Breakers[p] = s.String()
	}
	if n.webhook != nil {
		// Shown even when its store reads fail: Unread says why.
		ws, _ := n.webhook.State()
		st.Webhook = &ws
	}
	return st
}
