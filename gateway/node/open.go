package node

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
	"github.com/laborlink/laborlink/pki/durable"
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
	n.crls = newCRLFiles(c.TLS.CRLs, n.revoked.crls)
	if _, err := n.crls.load(pki.ChainCAs(cert)); err != nil {
		return err
	}
	n.tls = &pki.TLS{KeyPair: kp, Verifier: &pki.Verifier{Roots: roots, Revocation: n.revoked, Member: n.revoked.isMember, ListedCA: n.revoked.listsCA, Domain: n.id.Domain}}
	return nil
}

// openAudit opens the audit log with its checkpoint key, making the key on
// the first start of an empty log (newAuditKey), and keeps the key's
// verifier for the node's check of its own log. The log refuses to open if
// its last head is not signed by that key: every head the node signed from
// then on would fail the verifier key its auditors hold.
func (n *Node) openAudit() (*audit.Log, error) {
	origin := n.id.Domain + "/p" + n.cfg.Province + "/" + n.cfg.Name
	skey, err := os.ReadFile(n.cfg.Audit.Key)
	if errors.Is(err, os.ErrNotExist) {
		skey, err = n.newAuditKey(origin)
	} else if err != nil {
		err = fmt.Errorf("audit.key: %w", err)
	}
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	vkey, err := audit.VerifierKey(string(skey))
	if err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	// The verifier key file is what auditors are given: one that is not
	// this key's would have them refuse every head the node signs.
	if pub, err := os.ReadFile(n.cfg.Audit.Key + ".pub"); err == nil && strings.TrimSpace(string(pub)) != vkey {
		return nil, fmt.Errorf("audit.key %s: its verifier key file %s.pub holds another key (%s), not this key's (%s): auditors given that file would refuse every head; write this key's verifier key there, or configure the key that file belongs to",
			n.cfg.Audit.Key, n.cfg.Audit.Key, strings.TrimSpace(string(pub)), vkey)
	}
	if n.auditKey, err = note.NewVerifier(vkey); err != nil {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	// The log shares node.db, and commits through the store's committer
	// (store.Update): a commit that fails, the log's or the store's, stops
	// the store before any other commit builds on it. Its entries are
	// shown once durable, as the store's reads are (store.View).
	l, err := audit.Open(n.store.DB(), audit.Config{Bucket: auditBucket, Origin: origin, Signer: signer, Verifier: n.auditKey, SignInterval: n.cfg.Audit.SignInterval,
		HeadInterval: n.cfg.Audit.HeadInterval, Logger: n.log, Update: n.store.Update, View: n.store.View})
	if errors.Is(err, audit.ErrWrongKey) {
		return nil, fmt.Errorf("audit.key %s: %w", n.cfg.Audit.Key, err)
	}
	return l, err
}

// auditBucket is the bucket of the node's file that holds its audit log.
const auditBucket = "audit"

// newAuditKey makes the checkpoint key of a new log, writes it to
// audit.key and its verifier key to audit.key.pub beside it, and returns
// it. It refuses when the log holds entries or heads, which auditors check
// with the verifier key of the key that is missing: heads signed with a
// new one would fail it, so the key must be restored, not replaced. It
// never writes over a verifier key file, which auditors may hold.
func (n *Node) newAuditKey(origin string) ([]byte, error) {
	path, pub := n.cfg.Audit.Key, n.cfg.Audit.Key+".pub"
	empty, err := audit.Empty(n.store.DB(), auditBucket)
	if err != nil {
		return nil, fmt.Errorf("audit.key %s is missing, and the audit log could not be read: %w", path, err)
	}
	if !empty {
		return nil, fmt.Errorf("audit.key %s is missing, but the audit log in %s holds entries or signed heads, which its auditors check with the verifier key of that key (%s): restore the key from a backup; the node makes a new key only for an empty log, since heads signed with it would not verify (see \"When the audit key is lost\" in the operator guide)",
			path, n.store.DB().Path(), pub)
	}
	if _, err := os.Lstat(pub); err == nil {
		return nil, fmt.Errorf("audit.key %s is missing, but its verifier key %s is there, which auditors may hold: restore the key from a backup, or, if that verifier key belongs to no log anyone audits, move it aside and start the node again to make a new key", path, pub)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit.key %s is missing, and its verifier key %s could not be checked: %w", path, pub, err)
	}
	skey, vkey, err := audit.GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	// Never over a file, and on disk (with the directory's name for it)
	// before the log signs a head with it: a key lost to a crash after
	// that could not be made again.
	if err := durable.CreateFile(path, []byte(skey), 0o600); err != nil {
		return nil, fmt.Errorf("audit.key: %w", err)
	}
	if err := durable.CreateFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
		os.Remove(path) // nothing signed with it yet: the next start makes both again
		return nil, fmt.Errorf("audit.key: %w", err)
	}
	return []byte(skey), nil
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
	// federation/ cannot import the check: the node makes it on the file
	// the registry names.
	if err := boltfile.Check(rc.RaftPath()); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	reg, err := registry.Open(rc)
	if op := (*net.OpError)(nil); errors.As(err, &op) && op.Op == "listen" {
		// The registry binds raft.listen: name the setting, as the
		// other listeners' errors do.
		return nil, fmt.Errorf("raft.listen: %w", err)
	}
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
	}, peer.Presenting(n.tls.KeyPair.Presenting))
	n.metrics.reg.MustRegister(breakerStates(n.client.BreakerState))
	notify := &lateNotifier{}
	now := time.Now
	if n.exchange, err = exchange.New(exchange.Deps{
		Province: n.cfg.Province, Signer: signer, Keys: n.tls.KeyPair, Verifier: n.tls.Verifier,
		Agreements: agreements{store: n.registry.Store(), now: now},
		Policy:     n.policy, Store: n.store, Delivery: notify, Audit: n.audit, Log: n.log, Now: now,
		Registered: n.decides,
		Stale:      func() bool { return n.registry.Freshness().Stale },
	}); err != nil {
		return err
	}
	x = n.exchange
	obs := observers{n.exchange, n.metrics}
	if n.delivery, err = delivery.NewManager(delivery.Config{BatchSize: d.BatchSize, MinBackoff: d.MinBackoff, MaxBackoff: d.MaxBackoff, MaxDeferral: d.MaxDeferral, Idle: 5 * time.Second, Refusal: peer.Refusal, TimedOut: peer.TimedOut}, n.exchange.Outbox(), n.exchange.BatchSender(n.client), obs, n.log); err != nil {
		return err
	}
	notify.m = n.delivery
	n.metrics.reg.MustRegister(deferredByPeer(n.delivery.Peers))
	return n.openWebhook()
}

// openWebhook prepares the inbox push when a URL is configured. Over HTTPS
// the node presents its own certificate, as it does to its peers and
// reloaded on rotation alike, so that the business system can require a
// client certificate and know the items come from its province's node.
func (n *Node) openWebhook() error {
	c := n.cfg.Webhook
	if c.URL == "" {
		return nil
	}
	// No RootCAs: the host's roots verify the system.
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetClientCertificate: n.tls.KeyPair.GetClientCertificate}
	if c.CA != "" {
		pool, err := pki.ReadCertPool(c.CA)
		if err != nil {
			return fmt.Errorf("webhook.ca: %w", err)
		}
		tc.RootCAs = pool
	}
	// Made again once the certificate is rotated (presenting), for a
	// system that checks the client's certificate with every request.
	tr := newPresenting(n.tls.KeyPair, func() *http.Transport {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc.Clone()
		return tr
	})
	var err error
	n.webhook, err = webhook.New(webhook.Config{URL: c.URL, Batch: c.Batch, MaxConsecutiveSkips: c.MaxConsecutiveSkips, Client: &http.Client{Transport: tr, Timeout: c.Timeout}}, n.store, n.log)
	return err
}
