package node

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/boltfile"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki"
)

// openTLS loads the node's certificate, checks that it is the node the
// config names, and builds the mutual-TLS configuration every listener and
// client of the node uses: federation root, registry and CRL revocations.
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
	roots, err := pki.ReadCertPool(c.TLS.Root)
	if err != nil {
		return fmt.Errorf("tls.root: %w", err)
	}
	var issuers []*x509.Certificate
	for _, der := range cert.Certificate[1:] {
		if ca, err := x509.ParseCertificate(der); err == nil {
			issuers = append(issuers, ca)
		}
	}
	n.crls = newCRLFiles(c.TLS.CRLs, n.revoked.crls)
	if _, err := n.crls.load(issuers); err != nil {
		return err
	}
	n.tls = &pki.TLS{KeyPair: kp, Verifier: &pki.Verifier{Roots: roots, Revocation: n.revoked, Member: n.revoked.isMember, ListedCA: n.revoked.listsCA, Domain: n.id.Domain}}
	return nil
}

// openAudit opens the audit log, creating its checkpoint key on first start,
// and keeps the key's verifier for the node's check of its own log.
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
	vkey, err := audit.VerifierKey(string(skey))
	if err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	if n.auditKey, err = note.NewVerifier(vkey); err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	return audit.Open(n.store.DB(), audit.Config{Origin: origin, Signer: signer, SignInterval: n.cfg.Audit.SignInterval, Logger: n.log})
}

// openRegistry starts the node's registry replica: a configured voter from
// the genesis file, any other node to join through raft.join.
func (n *Node) openRegistry() (*registry.Registry, error) {
	rc := registry.DefaultConfig()
	rc.NodeID = n.id.String()
	rc.DataDir = filepath.Join(n.cfg.DataDir, "raft")
	rc.RaftAddr, rc.RaftListen = n.cfg.Raft.Advertise, n.cfg.Raft.Listen
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
	// The registry keeps its raft log in raft.db under DataDir (see
	// registry.Config.DataDir); federation/ cannot import the check.
	if err := boltfile.Check(filepath.Join(rc.DataDir, "raft.db")); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	reg, err := registry.Open(rc)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return reg, nil
}

// openExchange builds the record path: the exchange, its peer client with a
// breaker per peer, and the delivery workers.
func (n *Node) openExchange() error {
	signer, err := n.tls.KeyPair.Signer()
	if err != nil {
		return fmt.Errorf("node signer: %w", err)
	}
	d := n.cfg.Delivery
	var x *exchange.Exchange // the chain it signs with follows rotation
	n.client = peer.NewClient(n.tls.Verifier, func() [][]byte { return x.Chain() }, directory{n.registry.Store()}, n.peerHTTP, peer.BreakerSettings{
		Failures: d.BreakerFailures, Open: d.BreakerOpen, OnStateChange: breakerChanged(n.log),
	})
	n.metrics.reg.MustRegister(breakerStates(n.client.BreakerState))
	notify := &lateNotifier{}
	now := time.Now
	if n.exchange, err = exchange.New(exchange.Deps{
		Province: n.cfg.Province, Signer: signer, Keys: n.tls.KeyPair, Verifier: n.tls.Verifier,
		Agreements: agreements{store: n.registry.Store(), now: now},
		Policy:     n.policy, Store: n.store, Delivery: notify, Audit: n.audit, Log: n.log, Now: now,
		Registered: n.registry.Store().Initialized,
		Stale:      func() bool { return n.registry.Freshness().Stale },
	}); err != nil {
		return err
	}
	x = n.exchange
	obs := observers{n.exchange, n.metrics}
	if n.delivery, err = delivery.NewManager(delivery.Config{BatchSize: d.BatchSize, MinBackoff: d.MinBackoff, MaxBackoff: d.MaxBackoff, Idle: 5 * time.Second, Refusal: peer.Refusal}, n.exchange.Outbox(), n.exchange.BatchSender(n.client), obs, n.log); err != nil {
		return err
	}
	notify.m = n.delivery
	n.metrics.reg.MustRegister(deferredByPeer(n.delivery.Peers))
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
		pool, err := pki.ReadCertPool(c.CA)
		if err != nil {
			return fmt.Errorf("webhook.ca: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var err error
	n.webhook, err = webhook.New(webhook.Config{URL: c.URL, Batch: c.Batch, MaxConsecutiveSkips: c.MaxConsecutiveSkips, Client: &http.Client{Transport: tr, Timeout: c.Timeout}}, n.store, n.log)
	return err
}
