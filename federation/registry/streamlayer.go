package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/pki"
)

// streamLayer carries raft over mutual TLS. Both ends present node
// certificates; a connection is accepted only if the peer's certificate
// verifies (pki: federation root, name constraints, revocation) and
// authorize admits it (a member province, a listed CA). The handshake runs
// lazily on the first read or write, in raft's own goroutine, so a slow
// peer cannot stall Accept. Open connections are checked again (sweep).
//
// It can be partitioned (SetPartitioned) to test a node cut off from the
// others: dials fail, accepted connections are dropped and open ones closed.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr // what other nodes dial, which raft knows this node by
	server    *tls.Config
	client    *tls.Config
	log       *slog.Logger
	revoked   pki.RevocationChecker // nil: revocations are not watched
	// skew moves the clock the sweep reads certificates' expiry by, for
	// tests (nanoseconds).
	skew      atomic.Int64
	authorize authorizer
	// sends refuses a peer that may not send this node raft requests now
	// (nil: any may); asked of the connections peers dialled at every
	// tick, as what it answers changes with raft's configuration, which no
	// change of the registry's trust announces.
	sends     func(pki.Identity) error
	mu        sync.Mutex
	cut       bool
	conns     map[*trackedConn]struct{}
	peers     map[string]*peerConns // by node ID
	closeOnce sync.Once
	closed    chan struct{}
}

// sweepEvery is how often open raft connections are checked again for
// revocation without a change of the registry's trust: the verifier's
// revocations may come from elsewhere (CRL files), which changed does not
// announce.
const sweepEvery = time.Second

var _ raft.StreamLayer = (*streamLayer)(nil)

// authorizer admits a raft peer by its verified identity and leaf
// certificate; inbound says the peer dialled this node, to send it raft
// requests, rather than answer this node's.
type authorizer func(id pki.Identity, leaf *x509.Certificate, inbound bool) error

// newStreamLayer listens on listen, for other nodes to dial at advertise
// (the same address, unless listen is a wildcard or behind NAT). authorize
// admits a verified peer by its identity and leaf certificate; changed
// returns a channel closed when what authorize answers may have changed, to
// sweep open connections then.
func newStreamLayer(listen, advertise string, t *pki.TLS, authorize authorizer, sends func(pki.Identity) error, changed func() <-chan struct{}, log *slog.Logger) (*streamLayer, error) {
	policy := pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}
	server, err := t.ServerConfig(policy)
	if err != nil {
		return nil, err
	}
	client, err := t.ClientConfig(policy)
	if err != nil {
		return nil, err
	}
	for _, c := range []*tls.Config{server, client} {
		verify, inbound := c.VerifyConnection, c == server
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verify(cs); err != nil {
				return err
			}
			id, err := pki.PeerIdentity(cs)
			if err != nil {
				return err
			}
			return authorize(id, cs.PeerCertificates[0], inbound)
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("raft listener on %s: %w", listen, err)
	}
	// Raft knows the node by the address as configured, a name included;
	// only port 0, however written (tests: any free port), takes the port
	// bound.
	var adv net.Addr = advertisedAddr(advertise)
	if _, port, _ := net.SplitHostPort(advertise); strings.Trim(port, "0") == "" {
		adv = ln.Addr()
	}
	s := &streamLayer{ln: ln, advertise: adv, server: server, client: client, log: log, authorize: authorize, sends: sends,
		conns: map[*trackedConn]struct{}{}, peers: map[string]*peerConns{}, closed: make(chan struct{})}
	if t.Verifier != nil {
		s.revoked = t.Verifier.Revocation
	}
	go s.sweep(sweepEvery, changed)
	return s, nil
}

// sweep closes, until the layer is closed, the open connections whose peer
// would not be admitted any more: its certificate (or its CA) revoked, its
// CA delisted, its province expelled since the handshake. raft keeps its
// connections for as long as they work, and a node the registry no longer
// trusts must not stay in the federation's consensus on one it already
// had; it cannot make a new one, the handshake refuses it.
//
// When changed says the registry's trust did, it checks all of that again
// (refusal). Every tick it asks only whether the peer's certificates
// expired since the handshake, and the verifier's revocations (lapsed):
// the rest is the registry's own state, which does not change without
// changed saying so, and authorize costs a signature check per connection.
func (s *streamLayer) sweep(every time.Duration, changed func() <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	tick := t.C
	for {
		check := s.refusal
		select {
		case <-s.closed:
			return
		case <-tick:
			check = s.lapsed
		case <-changed():
		}
		s.closeRefused(check)
	}
}

// closeRefused closes the open connections whose peer check refuses.
func (s *streamLayer) closeRefused(check func(*trackedConn) error) {
	for _, c := range s.open() {
		if err := check(c); err != nil {
			s.log.Warn("closing a raft connection: its peer is no longer admitted", "peer", c.RemoteAddr().String(), "err", err)
			c.Close()
		}
	}
}

// refusal says why c's peer (none before its handshake completed) would
// not be admitted now, or nil. The chain was verified at the handshake;
// what can change since is revocation and authorize's answer.
func (s *streamLayer) refusal(c *trackedConn) error {
	certs := c.peerCerts()
	if len(certs) == 0 {
		return nil
	}
	if err := s.revocation(certs); err != nil {
		return err
	}
	id, err := pki.IdentityFromCert(certs[0])
	if err != nil {
		return err
	}
	return s.authorize(id, certs[0], c.inbound)
}

// lapsed says why c's peer would not be admitted now, for a reason that
// comes without the registry's trust changing: its certificate expired
// (the leaf: a bundle may carry a spare CA certificate no chain uses) or
// was revoked since the handshake, or, a peer that dialled this node, it
// may not send raft requests any more (sends).
func (s *streamLayer) lapsed(c *trackedConn) error {
	certs := c.peerCerts()
	if len(certs) == 0 {
		return nil
	}
	if leaf := certs[0]; time.Now().Add(time.Duration(s.skew.Load())).After(leaf.NotAfter) {
		return fmt.Errorf("certificate expired at %s (serial %s)", leaf.NotAfter.UTC().Format(time.RFC3339), serialKey(leaf.SerialNumber.Bytes()))
	}
	if err := s.revocation(certs); err != nil {
		return err
	}
	if !c.inbound || s.sends == nil {
		return nil
	}
	id, err := pki.IdentityFromCert(certs[0])
	if err != nil {
		return err
	}
	return s.sends(id)
}

// revocation says which of certs the verifier's revocations list, or nil.
func (s *streamLayer) revocation(certs []*x509.Certificate) error {
	if s.revoked == nil {
		return nil
	}
	for _, cert := range certs {
		if s.revoked.Revoked(cert) {
			return fmt.Errorf("certificate revoked (serial %s)", serialKey(cert.SerialNumber.Bytes()))
		}
	}
	return nil
}

func (s *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		if s.isCut() {
			c.Close()
			continue
		}
		return s.track(tls.Server(c, s.server), true), nil
	}
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tc, err := s.handshake(ctx, string(addr))
	if err != nil {
		return nil, err
	}
	c := s.track(tc, false)
	c.learnPeer()
	return c, nil
}

// handshake connects to a raft peer and completes the TLS handshake, which
// verifies and authorizes the peer as for any raft connection.
func (s *streamLayer) handshake(ctx context.Context, addr string) (*tls.Conn, error) {
	if s.isCut() {
		return nil, errors.New("raft stream layer is partitioned")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, s.client)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		s.log.Warn("raft peer refused", "addr", addr, "err", err)
		return nil, fmt.Errorf("raft handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// presented returns the node certificate the raft peer at addr presents to
// a new connection now: a connection already open shows the one of its
// handshake, which a reissue does not change. The connection is closed
// cleanly at once (the peer's raft transport reads an end of stream).
func (s *streamLayer) presented(ctx context.Context, addr string) (*x509.Certificate, error) {
	tc, err := s.handshake(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	return tc.ConnectionState().PeerCertificates[0], nil
}

// Close stops listening and closes the connections still open, as the
// end of the process would: peers see the node gone at once.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.ln.Close()
		close(s.closed)
		for _, c := range s.open() {
			c.Close()
		}
	})
	return err
}

// Addr is the address raft tells other nodes to reach this one at.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// advertisedAddr is a raft address as configured, host name and all: raft
// passes it on as a string, and resolving it here would pin what other
// nodes should resolve for themselves.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

func (s *streamLayer) isCut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// setPartitioned cuts or restores the node's raft traffic.
func (s *streamLayer) setPartitioned(cut bool) {
	s.mu.Lock()
	s.cut = cut
	s.mu.Unlock()
	if cut {
		for _, c := range s.open() {
			c.Close()
		}
	}
}

// open returns the connections open now.
func (s *streamLayer) open() []*trackedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.conns))
}

func (s *streamLayer) track(c net.Conn, inbound bool) *trackedConn {
	tc := &trackedConn{Conn: c, s: s, inbound: inbound}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

// peerConns counts one peer's raft connections.
type peerConns struct {
	open int
	// epoch counts every connection with the peer opened or closed.
	epoch uint64
}

// peerEpoch says how many raft connections with node id have been opened
// or closed so far, and whether one is open now. A peer restarting drops
// its connections and makes new ones, which moves the epoch: what the peer
// said before it, over any channel, may no longer hold (levelCache).
func (s *streamLayer) peerEpoch(id string) (epoch uint64, connected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.peers[id]; p != nil {
		return p.epoch, p.open > 0
	}
	return 0, false
}

// countPeer records a connection with node id opened (+1) or closed (-1).
// Entries are never deleted, so that an epoch never repeats. Called with
// s.mu held.
func (s *streamLayer) countPeer(id string, delta int) {
	p := s.peers[id]
	if p == nil {
		p = &peerConns{}
		s.peers[id] = p
	}
	p.open += delta
	p.epoch++
}

type trackedConn struct {
	net.Conn
	s    *streamLayer
	once sync.Once
	// inbound says the peer dialled this node (Accept), rather than this
	// node the peer (Dial).
	inbound bool
	// peer is the peer's certificate chain, known once the handshake has
	// completed (learned on the first read or write after it).
	peer atomic.Pointer[[]*x509.Certificate]
	// peerID is the peer's node ID, set with peer; guarded by s.mu.
	peerID string
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.learnPeer()
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.learnPeer()
	return n, err
}

// learnPeer keeps the peer's certificates once the handshake is done;
// ConnectionState would wait for a handshake still under way, so it is
// asked only then.
func (c *trackedConn) learnPeer() {
	if c.peer.Load() != nil {
		return
	}
	if tc, ok := c.Conn.(*tls.Conn); ok {
		if cs := tc.ConnectionState(); cs.HandshakeComplete {
			c.s.learned(c, cs.PeerCertificates)
		}
	}
}

// learned keeps the certificates of c's peer and counts the connection as
// the peer's, unless c was closed meanwhile or learned already.
func (s *streamLayer) learned(c *trackedConn, certs []*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, open := s.conns[c]; !open || c.peer.Load() != nil {
		return
	}
	c.peer.Store(&certs)
	if id, err := pki.IdentityFromCert(certs[0]); err == nil {
		c.peerID = id.String()
		s.countPeer(c.peerID, 1)
	}
}

// peerCerts is the peer's chain, or nil before the handshake completed.
func (c *trackedConn) peerCerts() []*x509.Certificate {
	if p := c.peer.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		if c.peerID != "" {
			c.s.countPeer(c.peerID, -1)
		}
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
