package pki

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
)

// RevocationChecker answers whether a certificate is revoked. It gets the
// whole certificate so that a list can scope serials by who revoked them:
// RevocationList by the CA that signed the CRL, the registry by province
// (CertProvince). A CA or province may only revoke its own.
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

// RevocationList is a concurrency-safe set of revoked certificates, filled
// from CRL files (AddCRL) or by serial alone (Add). A CRL's entries are
// scoped to the CA that signed it, as RFC 5280 scopes them: a CA can
// revoke only what it issued, so one province's CRL cannot shut out
// another province's certificates by listing their serials.
type RevocationList struct {
	mu      sync.RWMutex
	revoked map[revocationKey]struct{}
	// keys remembers certificates' keys in the list: a node asks about the
	// same certificates at every request.
	keys CertMemo[certRevocationKeys]
}

// revocationKey is a serial as revoked by one issuer. issuer is "key:"
// and the issuer's subject key id (matched against a certificate's
// authority key id), or "name:" and its subject (matched against a
// certificate's issuer, for an issuer without a key id), or "" for a
// serial added without an issuer (Add).
type revocationKey struct {
	issuer string
	serial string
}

// certRevocationKeys are the keys under which a certificate may be revoked.
type certRevocationKeys struct {
	any, byKey, byName revocationKey
}

var _ RevocationChecker = (*RevocationList)(nil)

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{revoked: make(map[revocationKey]struct{})}
}

// Add marks serials as revoked whoever issued them. It is for serials
// whose issuer was checked elsewhere (the registry scopes each revocation
// to its province); a CRL goes through AddCRL, which scopes its serials to
// its issuer.
func (l *RevocationList) Add(serials ...*big.Int) {
	l.add("", serials)
}

func (l *RevocationList) add(issuer string, serials []*big.Int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range serials {
		l.revoked[revocationKey{issuer, serialString(s)}] = struct{}{}
	}
}

// Revoked reports whether the certificate is in the list now: its serial
// added by Add, or listed by a CRL of the CA that issued it.
func (l *RevocationList) Revoked(cert *x509.Certificate) bool {
	k := l.keys.Get(cert, certKeys)
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.revoked[k.any]
	if !ok && k.byKey.issuer != "" {
		_, ok = l.revoked[k.byKey]
	}
	if !ok {
		_, ok = l.revoked[k.byName]
	}
	return ok
}

func certKeys(cert *x509.Certificate) certRevocationKeys {
	serial := serialString(cert.SerialNumber)
	k := certRevocationKeys{any: revocationKey{"", serial}, byName: revocationKey{"name:" + string(cert.RawIssuer), serial}}
	if len(cert.AuthorityKeyId) > 0 {
		k.byKey = revocationKey{"key:" + string(cert.AuthorityKeyId), serial}
	}
	return k
}

// issuerScope is the issuer part of the keys of what issuer revokes.
func issuerScope(issuer *x509.Certificate) string {
	if len(issuer.SubjectKeyId) > 0 {
		return "key:" + string(issuer.SubjectKeyId)
	}
	return "name:" + string(issuer.RawSubject)
}

// Len returns the number of revocations in the list.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.revoked)
}

// AddCRL adds every serial of a CRL (PEM or DER) after checking that issuer
// signed it, as revoked by issuer: they revoke only certificates issuer
// issued (by key id, or by name for an issuer without one). A CRL past
// its NextUpdate is still added: revocations never lapse, and a stale list
// is better than none.
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
	l.add(issuerScope(issuer), serials)
	return nil
}
