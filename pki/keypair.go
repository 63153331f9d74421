package pki

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadInterval is how often, at most, a KeyPair looks at its files.
const DefaultReloadInterval = time.Second

// KeyPair is a certificate and key loaded from files and reloaded when the
// files change, so that a rotated certificate is used from the next
// handshake on, without a restart. The check reads both files and compares
// their SHA-256 with the pair's in use, at most once per interval, from the
// handshake that needs the certificate: content, not inode, mtime and size,
// tells a changed file, as it does for the node's CRLs, since a file
// rewritten in place within the file system's timestamp granularity keeps
// all three. If the new files do not load (for instance the certificate was
// replaced but not yet its key), the previous pair stays in use and the
// next check tries again.
//
// The handshake that makes the check reads and parses the files without
// holding the pair's lock: on a slow disk it waits alone, while the other
// handshakes are served the pair in use. Checks go one at a time (see
// checking), so that files read before a rotation never replace a pair
// read from them after it; files changed during a check are read by the
// next.
//
// A KeyPair is safe for concurrent use.
type KeyPair struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	// readFile reads a file of the pair (os.ReadFile; tests hold it up).
	readFile func(name string) ([]byte, error)

	mu        sync.Mutex
	cur       *loadedPair
	lastCheck time.Time
	lastErr   error
	// checking says a check of the files is under way: one at a time, so
	// that a check reading the files before a rotation cannot settle after
	// one that read them after it and put the old pair back.
	checking bool

	// gen counts the reloads (Generation).
	gen atomic.Uint64
}

// loadedPair is a certificate and key as loaded, with the SHA-256 of the
// files they were loaded from.
type loadedPair struct {
	cert *tls.Certificate
	sums pairSums
}

// KeyPairOption configures LoadKeyPair.
type KeyPairOption func(*KeyPair)

// WithReloadInterval sets how often, at most, the files are checked; 0
// checks on every handshake. Default DefaultReloadInterval.
func WithReloadInterval(d time.Duration) KeyPairOption {
	return func(k *KeyPair) { k.interval = d }
}

// WithClock sets the clock used to space checks (tests).
func WithClock(now func() time.Time) KeyPairOption {
	return func(k *KeyPair) { k.now = now }
}

// LoadKeyPair loads certFile (leaf then chain) and keyFile, failing if they
// do not load or do not match.
func LoadKeyPair(certFile, keyFile string, opts ...KeyPairOption) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile, interval: DefaultReloadInterval, now: time.Now, readFile: os.ReadFile}
	for _, o := range opts {
		o(k)
	}
	certPEM, keyPEM, err := k.read()
	if err != nil {
		return nil, err
	}
	cert, err := k.load(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	k.cur, k.lastCheck = &loadedPair{cert: cert, sums: sumPair(certPEM, keyPEM)}, k.now()
	return k, nil
}

// pairSums are the SHA-256 of a certificate file and of a key file.
type pairSums struct{ cert, key [sha256.Size]byte }

func sumPair(certPEM, keyPEM []byte) pairSums {
	return pairSums{sha256.Sum256(certPEM), sha256.Sum256(keyPEM)}
}

// read reads both files; what it read is what load parses and what sums
// are taken of, so that a file replaced between the two is seen at the
// next check.
func (k *KeyPair) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = k.readFile(k.certFile); err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	if keyPEM, err = k.readFile(k.keyFile); err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	return certPEM, keyPEM, nil
}

func (k *KeyPair) load(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", k.certFile, k.keyFile, err)
	}
	if _, err := IdentityFromCert(cert.Leaf); err != nil {
		return nil, fmt.Errorf("load %s: %w", k.certFile, err)
	}
	return &cert, nil
}

// sameIdentity refuses a reloaded certificate (cur) of another identity
// than the one in use (old): a rotation renews a node's certificate under
// its name, while one copied from another node or kind by mistake would be
// served as this node, and every peer would refuse it. A new identity
// takes a restart, which checks it against the node's configuration.
func sameIdentity(file string, old, cur *tls.Certificate) error {
	was, err := IdentityFromCert(old.Leaf)
	if err != nil {
		return nil // nothing to hold the new one to
	}
	now, err := IdentityFromCert(cur.Leaf)
	if err == nil && now != was {
		err = fmt.Errorf("%s now holds a certificate of %s, not of %s as in use; keeping the one in use (a new identity takes a restart)", file, now, was)
	}
	return err
}

// inValidity refuses a reloaded certificate that is not valid at now, by
// the wall clock (k.now spaces the checks only): an expired one copied by
// mistake would be served, and refused by every peer, in place of one
// still good; one not valid yet is taken once it is, as the next checks
// look at the files again. checkTime, which peer verification uses, owns
// the rule and its wording; the error unwraps to ErrExpired or
// ErrNotYetValid as a peer's does.
func inValidity(file string, leaf *x509.Certificate, now time.Time) error {
	if err := checkTime(leaf, now); err != nil {
		return fmt.Errorf("%s now holds a %w; keeping the one in use", file, err)
	}
	return nil
}

// Certificate returns the current certificate, reloading it first if the
// files changed since the last check.
//
// The files are read without the lock, so that a slow disk holds up the
// one call that checks them, not every handshake: the others are served
// the pair in use meanwhile.
func (k *KeyPair) Certificate() (*tls.Certificate, error) {
	check, cur := k.startCheck()
	if !check {
		return cur.cert, nil
	}
	next, err := k.reload(cur)
	return k.settle(next, err), nil
}

// startCheck returns the pair in use and whether this caller is to check
// the files: a check is due and none is under way. The clock moves under
// the lock, the files are read after it.
func (k *KeyPair) startCheck() (check bool, cur *loadedPair) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.checking || now.Sub(k.lastCheck) < k.interval {
		return false, k.cur
	}
	k.lastCheck, k.checking = now, true
	return true, k.cur
}

// reload reads and loads the files, without the lock: it returns the pair
// they hold, which is cur itself if they hold the pair in use, or why they
// hold none to serve in its place.
func (k *KeyPair) reload(cur *loadedPair) (*loadedPair, error) {
	certPEM, keyPEM, err := k.read()
	if err != nil {
		return nil, err
	}
	sums := sumPair(certPEM, keyPEM)
	if sums == cur.sums {
		return cur, nil
	}
	cert, err := k.load(certPEM, keyPEM)
	if err == nil {
		// Every pair in use holds the identity the first one had.
		err = sameIdentity(k.certFile, cur.cert, cert)
	}
	if err == nil {
		err = inValidity(k.certFile, cert.Leaf, time.Now())
	}
	if err != nil {
		return nil, err
	}
	return &loadedPair{cert: cert, sums: sums}, nil
}

// settle records the outcome of the check under way (the pair the files
// hold, or why none), ends it, and returns the certificate in use. The
// same files loaded again are no rotation, and Generation does not move.
func (k *KeyPair) settle(next *loadedPair, err error) *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.checking = false
	// Nil with the pair in use in the files: whatever failed before (a
	// file missing for a moment, a bad pair put back) is over. Otherwise
	// the old pair stays, and the next check tries again.
	k.lastErr = err
	if next != nil && next.sums != k.cur.sums {
		k.cur = next
		k.gen.Add(1)
	}
	return k.cur.cert
}

// Generation counts the times the pair was reloaded: it moves as
// Certificate starts returning another certificate. A client that keeps
// connections open compares it, through Presenting, with the one its
// connections were made at, to stop using those that presented the
// certificate before.
func (k *KeyPair) Generation() uint64 { return k.gen.Load() }

// LastError returns why the last reload attempt failed, or nil; a node can
// report it on its health endpoint.
func (k *KeyPair) LastError() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// GetCertificate is a tls.Config.GetCertificate for servers.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Certificate()
}

// GetClientCertificate is a tls.Config.GetClientCertificate for clients.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.Certificate()
}

// ChainCAs are the CA certificates that come with cert, after its leaf:
// the issuers a CRL of the holder's province or of the root is checked
// against. One that does not parse is left out.
func ChainCAs(cert *tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range cert.Certificate[1:] {
		if ca, err := x509.ParseCertificate(der); err == nil {
			out = append(out, ca)
		}
	}
	return out
}

// Signer returns a Signer over the current key and chain (reloading first
// if the files changed). Take a new one per message: after a rotation the
// old Signer keeps the old key.
func (k *KeyPair) Signer() (*Signer, error) {
	cert, err := k.Certificate()
	if err != nil {
		return nil, err
	}
	return signerFromTLS(cert)
}
