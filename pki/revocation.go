package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
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
// from CRL files (AddCRL) or certificate by certificate (Add). A CRL's entries are
// scoped to the CA that signed it, as RFC 5280 scopes them (a serial is
// unique per issuer name): a CA can revoke only what was issued under its
// name, so one province's CRL cannot shut out another province's
// certificates by listing their serials. By name, not by key: a province
// CA remade with a new key under the same name (pki csr --force) goes on
// revoking what the old key signed, as its records still list it.
type RevocationList struct {
	mu      sync.RWMutex
	revoked map[revocationKey]struct{}
	// keys remembers certificates' keys in the list: a node asks about the
	// same certificates at every request.
	keys CertMemo[revocationKey]
}

// revocationKey is a serial as revoked by one issuer: issuer is the
// issuing CA's subject, DER (matched against a certificate's issuer).
type revocationKey struct {
	issuer string
	serial string
}

var _ RevocationChecker = (*RevocationList)(nil)

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{revoked: make(map[revocationKey]struct{})}
}

// Add marks certificates as revoked, each under its issuer, as a CRL of
// that issuer would.
func (l *RevocationList) Add(certs ...*x509.Certificate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range certs {
		l.revoked[certKey(c)] = struct{}{}
	}
}

func (l *RevocationList) add(issuer string, serials []*big.Int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range serials {
		l.revoked[revocationKey{issuer, serialString(s)}] = struct{}{}
	}
}

// Revoked reports whether the certificate is in the list now: added by
// Add, or listed by a CRL of the CA that issued it.
func (l *RevocationList) Revoked(cert *x509.Certificate) bool {
	k := l.keys.Get(cert, certKey)
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.revoked[k]
	return ok
}

func certKey(cert *x509.Certificate) revocationKey {
	return revocationKey{string(cert.RawIssuer), serialString(cert.SerialNumber)}
}

// Len returns the number of revocations in the list.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.revoked)
}

// ErrCRLSigner is a CRL that the CA AddCRL was given, or none of those
// AddCRLFrom was, signed: its errors.Is target.
var ErrCRLSigner = errors.New("CRL not signed by the CA given")

// crlSignerError is ErrCRLSigner: by names the CAs, quoted; err is the
// signature check's error, when there was one CA.
type crlSignerError struct {
	by  string
	err error
}

func (e *crlSignerError) Error() string {
	if e.err == nil {
		return "CRL not signed by " + e.by
	}
	return fmt.Sprintf("CRL not signed by %s: %v", e.by, e.err)
}

func (e *crlSignerError) Is(target error) bool { return target == ErrCRLSigner }

func (e *crlSignerError) Unwrap() error { return e.err }

// AddCRLFrom adds a CRL as AddCRL does, signed by whichever of issuers
// signed it. A CRL none of them signed is an error wrapping ErrCRLSigner
// that names them; one that is no CRL, AddCRL's error.
func (l *RevocationList) AddCRLFrom(data []byte, issuers []*x509.Certificate) error {
	names := make([]string, 0, len(issuers))
	for _, iss := range issuers {
		err := l.AddCRL(data, iss)
		if err == nil || !errors.Is(err, ErrCRLSigner) {
			return err
		}
		names = append(names, fmt.Sprintf("%q", iss.Subject.CommonName))
	}
	return &crlSignerError{by: "any of " + strings.Join(names, ", ")}
}

// AddCRL adds every serial of a CRL (PEM or DER) after checking that issuer
// signed it, as revoked by issuer: they revoke only certificates issued
// under issuer's name. A CRL past
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
		return &crlSignerError{by: fmt.Sprintf("%q", issuer.Subject.CommonName), err: err}
	}
	serials := make([]*big.Int, 0, len(list.RevokedCertificateEntries))
	for _, e := range list.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber)
	}
	l.add(string(issuer.RawSubject), serials)
	return nil
}
