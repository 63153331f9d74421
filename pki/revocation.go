package pki

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
)

// RevocationChecker answers whether a certificate is revoked. It gets the
// whole certificate so that a list can scope serials by the province that
// revoked them (CertProvince): a province may only revoke its own.
// Implementations must be safe for concurrent use: the TLS layer calls it
// from every handshake.
type RevocationChecker interface {
	Revoked(cert *x509.Certificate) bool
}

// RevokedFunc adapts a function to RevocationChecker, e.g. a lookup in the
// federation registry's replicated list of revocations.
type RevokedFunc func(cert *x509.Certificate) bool

// Revoked calls f.
func (f RevokedFunc) Revoked(cert *x509.Certificate) bool { return f(cert) }

// RevocationList is a concurrency-safe set of revoked serials, filled from
// the registry (Add) or from CRL files (AddCRL). Serials are matched
// without their issuer: cfssl gives every certificate 159 random bits, so
// serials do not collide, and a CA that reused another's serial could only
// get its own certificate refused.
type RevocationList struct {
	mu      sync.RWMutex
	serials map[string]struct{}
	// keys remembers certificates' serials as the list's keys: a node asks
	// about the same certificates at every request.
	keys CertMemo[string]
}

var _ RevocationChecker = (*RevocationList)(nil)

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{serials: make(map[string]struct{})}
}

// Add marks serials as revoked.
func (l *RevocationList) Add(serials ...*big.Int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range serials {
		l.serials[serialString(s)] = struct{}{}
	}
}

// Revoked reports whether the certificate's serial is in the list now.
func (l *RevocationList) Revoked(cert *x509.Certificate) bool {
	key := l.keys.Get(cert, certSerial)
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.serials[key]
	return ok
}

func certSerial(cert *x509.Certificate) string { return serialString(cert.SerialNumber) }

// Len returns the number of revoked serials.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.serials)
}

// AddCRL adds every serial of a CRL (PEM or DER) after checking that issuer
// signed it. A CRL past its NextUpdate is still added: revocations never
// lapse, and a stale list is better than none.
func (l *RevocationList) AddCRL(data []byte, issuer *x509.Certificate) error {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return fmt.Errorf("CRL: PEM block is %q, want X509 CRL", block.Type)
		}
		data = block.Bytes
	}
	list, err := x509.ParseRevocationList(data)
	if err != nil {
		return fmt.Errorf("malformed CRL: %w", err)
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("CRL not signed by %q: %w", issuer.Subject.CommonName, err)
	}
	serials := make([]*big.Int, 0, len(list.RevokedCertificateEntries))
	for _, e := range list.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber)
	}
	l.Add(serials...)
	return nil
}
