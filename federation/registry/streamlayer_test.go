package registry

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// sweptConn is one raft connection between two stream layers on loopback,
// seen from the accepting layer, whose sweep the tests watch: its CRL, its
// trust (authorize refuses once delisted is set) and the wake-up its
// changed announces are the test's to drive.
type sweptConn struct {
	layer *streamLayer
	peer  *pki.Leaf // the dialing node's certificate
	crl   *pki.RevocationList
	// delisted makes authorize refuse the peer, as once its CA is delisted.
	delisted atomic.Bool
	// authorized counts authorize's answers; asked counts the revocation
	// checks of the peer's certificate.
	authorized, asked atomic.Int64
	wake              atomic.Pointer[chan struct{}]
}

// newSweptConn opens the connection and waits until the accepting layer
// knows the peer's certificates, so that its sweep looks at them.
func newSweptConn(t *testing.T) *sweptConn {
	t.Helper()
	p := pkitest.New(t, "laborlink.test", "11", "51")
	log := slog.New(slog.DiscardHandler)
	sc := &sweptConn{peer: p.Issue(t, "51", pki.KindNode, "gw-1"), crl: pki.NewRevocationList()}
	sc.wake.Store(new(make(chan struct{})))
	revoked := pki.RevokedFunc(func(c *x509.Certificate) bool {
		if c.SerialNumber.Cmp(sc.peer.Cert.SerialNumber) == 0 {
			sc.asked.Add(1)
		}
		return sc.crl.Revoked(c)
	})
	authorize := func(pki.Identity, *x509.Certificate, bool) error {
		sc.authorized.Add(1)
		if sc.delisted.Load() {
			return errors.New("its CA is delisted")
		}
		return nil
	}
	changed := func() <-chan struct{} { return *sc.wake.Load() }
	var err error
	sc.layer, err = newStreamLayer("127.0.0.1:0", "127.0.0.1:0", p.TLS(t, p.Issue(t, "11", pki.KindNode, "gw-1"), revoked), authorize, nil, changed, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.layer.Close() })
	never := func() <-chan struct{} { return nil }
	dialer, err := newStreamLayer("127.0.0.1:0", "127.0.0.1:0", p.TLS(t, sc.peer, nil), func(pki.Identity, *x509.Certificate, bool) error { return nil }, nil, never, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Close() })

	// The accepting side shakes hands on its first read, as raft's
	// transport reads at once.
	read := make(chan error, 1)
	go func() {
		c, err := sc.layer.Accept()
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		read <- err
	}()
	out, err := dialer.Dial(raft.ServerAddress(sc.layer.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if sc.open() != 1 {
		t.Fatalf("the accepting layer has %d connections open, want 1", sc.open())
	}
	return sc
}

func (sc *sweptConn) open() int { return len(sc.layer.open()) }

// wakeUp says the registry's trust changed, as Store.publishTrust does.
func (sc *sweptConn) wakeUp() { close(*sc.wake.Swap(new(make(chan struct{})))) }

// TestSweepTickClosesACRLRevokedConnection: a revocation from a CRL file
// comes with no wake-up; the timer alone must find it and close the
// connection.
func TestSweepTickClosesACRLRevokedConnection(t *testing.T) {
	sc := newSweptConn(t)
	sc.crl.Add(sc.peer.Cert)
	pkitest.Eventually(t, 20*sweepEvery, "the sweep timer to close the revoked peer's connection", func() bool {
		return sc.open() == 0
	})
}

// TestSweepTickClosesAnExpiredPeersConnection: the handshake checked the
// peer's certificate was valid then; raft keeps a connection for as long
// as it works, so the sweep closes one whose peer's certificate expired
// since.
func TestSweepTickClosesAnExpiredPeersConnection(t *testing.T) {
	sc := newSweptConn(t)
	// Two ticks, as below: one before the clock moves closes nothing.
	asked := sc.asked.Load()
	pkitest.Eventually(t, 20*sweepEvery, "two sweep ticks", func() bool { return sc.asked.Load() >= asked+2 })
	if sc.open() != 1 {
		t.Fatal("a tick closed the connection of a valid peer")
	}
	sc.layer.skew.Store(int64(time.Until(sc.peer.Cert.NotAfter) + time.Minute))
	pkitest.Eventually(t, 20*sweepEvery, "the sweep timer to close the expired peer's connection", func() bool {
		return sc.open() == 0
	})
}

// TestSweepWakeUpClosesADelistedCAsConnection: the timer asks only the
// revocations, not authorize, so a delisted CA's connection stays open
// over ticks until the registry says its trust changed; that wake-up runs
// the whole check and closes it.
func TestSweepWakeUpClosesADelistedCAsConnection(t *testing.T) {
	sc := newSweptConn(t)
	authorized, asked := sc.authorized.Load(), sc.asked.Load()
	sc.delisted.Store(true)
	// Two ticks' revocation checks: the first tick's sweep is over once
	// the second asks, so anything it did is seen. A tick that closed the
	// connection stops the asking.
	pkitest.Eventually(t, 20*sweepEvery, "two sweep ticks", func() bool {
		return sc.asked.Load() >= asked+2 || sc.open() == 0
	})
	if n := sc.authorized.Load() - authorized; n != 0 {
		t.Errorf("the sweep timer asked authorize %d times; it should only check revocations", n)
	}
	if sc.open() != 1 {
		t.Fatal("a tick closed the connection without a revocation")
	}
	sc.wakeUp()
	pkitest.Eventually(t, 20*sweepEvery, "the wake-up to close the delisted CA's connection", func() bool {
		return sc.open() == 0
	})
}

// TestStreamLayerAdvertisesThePortBoundForAnyPort: an advertised port 0,
// however written ("0", "00"), is any free port, so raft is told the port
// the layer bound, which others can dial.
func TestStreamLayerAdvertisesThePortBoundForAnyPort(t *testing.T) {
	p := pkitest.New(t, "laborlink.test", "11")
	tlsConfig := p.TLS(t, p.Issue(t, "11", pki.KindNode, "gw-1"), nil)
	never := func() <-chan struct{} { return nil }
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:00"} {
		l, err := newStreamLayer(addr, addr, tlsConfig, func(pki.Identity, *x509.Certificate, bool) error { return nil }, nil, never, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got, bound := l.Addr().String(), l.ln.Addr().String(); got != bound {
			t.Errorf("advertising %s: raft is told %s, want the port bound, %s", addr, got, bound)
		}
		l.Close()
	}
}
