package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/pki"
)

// streamLayer carries raft over mutual TLS. Both ends present node
// certificates; a connection is accepted only if the peer's certificate
// verifies (pki: federation root, name constraints, revocation) and its
// province is a member (authorize). The handshake runs lazily on the first
// read or write, in raft's own goroutine, so a slow peer cannot stall Accept.
//
// It can be partitioned (SetPartitioned) to test a node cut off from the
// others: dials fail, accepted connections are dropped and open ones closed.
type streamLayer struct {
	ln        net.Listener
	server    *tls.Config
	client    *tls.Config
	log       *slog.Logger
	mu        sync.Mutex
	cut       bool
	conns     map[*trackedConn]struct{}
	closeOnce sync.Once
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(addr string, t *pki.TLS, authorize func(pki.Identity) error, log *slog.Logger) (*streamLayer, error) {
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
		verify := c.VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verify(cs); err != nil {
				return err
			}
			id, err := pki.PeerIdentity(cs)
			if err != nil {
				return err
			}
			return authorize(id)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft listener on %s: %w", addr, err)
	}
	return &streamLayer{ln: ln, server: server, client: client, log: log, conns: map[*trackedConn]struct{}{}}, nil
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
		return s.track(tls.Server(c, s.server)), nil
	}
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.isCut() {
		return nil, errors.New("raft stream layer is partitioned")
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", string(addr))
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, s.client)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		s.log.Warn("raft peer refused", "addr", addr, "err", err)
		return nil, fmt.Errorf("raft handshake with %s: %w", addr, err)
	}
	return s.track(tc), nil
}

func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.ln.Close() })
	return err
}

func (s *streamLayer) Addr() net.Addr { return s.ln.Addr() }

func (s *streamLayer) isCut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// setPartitioned cuts or restores the node's raft traffic.
func (s *streamLayer) setPartitioned(cut bool) {
	s.mu.Lock()
	s.cut = cut
	var open []*trackedConn
	if cut {
		for c := range s.conns {
			open = append(open, c)
		}
	}
	s.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

func (s *streamLayer) track(c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, s: s}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

type trackedConn struct {
	net.Conn
	s    *streamLayer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
