package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultCRLValidity is how long a published CRL stays current (its
// NextUpdate); republish with laborlink pki crl before then.
const DefaultCRLValidity = 7 * 24 * time.Hour

// revocationReasons are the RFC 5280 CRLReason codes an operator may give.
// certificateHold is left out on purpose: a revocation here is final.
var revocationReasons = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"cACompromise":         2,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"privilegeWithdrawn":   9,
}

// ParseReason returns the canonical RFC 5280 name of a revocation reason,
// matched case-insensitively.
func ParseReason(s string) (string, error) {
	for name := range revocationReasons {
		if strings.EqualFold(name, s) {
			return name, nil
		}
	}
	names := make([]string, 0, len(revocationReasons))
	for name := range revocationReasons {
		names = append(names, name)
	}
	slices.Sort(names)
	return "", fmt.Errorf("unknown revocation reason %q: want one of %s", s, strings.Join(names, ", "))
}

// issuer is a CA directory that can sign CRLs: the root or a province CA.
type issuer struct {
	dir  string
	name string
	cert *x509.Certificate
	key  crypto.Signer
}

// openIssuer opens a province CA directory, or else a root directory.
func openIssuer(dir string) (*issuer, error) {
	if exists(filepath.Join(dir, CACertFile)) || !exists(filepath.Join(dir, RootKeyFile)) {
		ca, err := OpenCA(dir)
		if err != nil {
			return nil, err
		}
		return &issuer{dir: dir, name: "province CA p" + ca.Province, cert: ca.Cert, key: ca.key}, nil
	}
	r, err := OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &issuer{dir: dir, name: "root CA", cert: r.Cert, key: r.key}, nil
}

// RevokeOptions configures Revoke.
type RevokeOptions struct {
	// Reason is an RFC 5280 reason name; default "unspecified".
	Reason string
	// Force revokes a serial the CA has no record of issuing (for example
	// after its state file was lost); without it such a serial is refused,
	// since it is most likely a typo.
	Force bool
	// CRLValidity is passed to the CRL written after revoking.
	CRLValidity time.Duration
}

// Revoke records serial as revoked in the CA directory dir (a province CA,
// or the root to revoke a province CA) and republishes dir/crl.pem.
// Revoking a serial twice is an error that says when it was revoked.
func Revoke(dir string, serial *big.Int, opts RevokeOptions) (crlFile string, err error) {
	iss, err := openIssuer(dir)
	if err != nil {
		return "", err
	}
	return iss.revoke(serial, opts)
}

// RevokeCert is Revoke for the serial of cert, which must have been issued
// under the name of the CA in dir: a CRL revokes only what its issuer
// issued (RevocationList), so the serial of another CA's certificate in
// it would be reported revoked and revoke nothing, Force or not.
func RevokeCert(dir string, cert *x509.Certificate, opts RevokeOptions) (crlFile string, err error) {
	iss, err := openIssuer(dir)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(cert.RawIssuer, iss.cert.RawSubject) {
		return "", fmt.Errorf("certificate %s (serial %s) was issued by %q, not by the %s in %s (%q), whose CRL cannot revoke it: revoke it with the CA that issued it",
			describe(cert), serialString(cert.SerialNumber), cert.Issuer.CommonName, iss.name, dir, iss.cert.Subject.CommonName)
	}
	return iss.revoke(cert.SerialNumber, opts)
}

// revoke records serial as revoked by iss and republishes its CRL.
func (iss *issuer) revoke(serial *big.Int, opts RevokeOptions) (crlFile string, err error) {
	reason := "unspecified"
	if opts.Reason != "" {
		if reason, err = ParseReason(opts.Reason); err != nil {
			return "", err
		}
	}
	dir := iss.dir
	st, unlock, err := lockedState(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	if r, ok := st.revoked(serial); ok {
		return "", fmt.Errorf("serial %s is already revoked (%s, %s)", serialString(serial), r.Reason, r.RevokedAt.Format(time.RFC3339))
	}
	if _, ok := st.issued(serial); !ok && !opts.Force {
		return "", fmt.Errorf("%s has no record of issuing serial %s (see laborlink pki status --dir %s); pass --force to revoke it anyway", iss.name, serialString(serial), dir)
	}
	st.Revoked = append(st.Revoked, revokedRecord{Serial: serialString(serial), Reason: reason, RevokedAt: time.Now().UTC().Truncate(time.Second)})
	return iss.publish(st, opts.CRLValidity)
}

// WriteCRL signs and writes dir/crl.pem from the CA's revocation records,
// valid for validity (default DefaultCRLValidity).
func WriteCRL(dir string, validity time.Duration) (string, error) {
	iss, err := openIssuer(dir)
	if err != nil {
		return "", err
	}
	st, unlock, err := lockedState(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	return iss.publish(st, validity)
}

// publish writes the state and a fresh CRL together.
func (iss *issuer) publish(st *caState, validity time.Duration) (string, error) {
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	now := time.Now()
	der, err := iss.crl(st, now, now.Add(validity))
	if err != nil {
		return "", err
	}
	stateData, err := st.marshal()
	if err != nil {
		return "", err
	}
	path := filepath.Join(iss.dir, CRLFile)
	outs := []output{
		{path: filepath.Join(iss.dir, StateFile), data: stateData, mode: 0o644, record: true},
		{path: path, data: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), mode: 0o644, record: true},
	}
	if err := commit(outs, false); err != nil {
		return "", err
	}
	return path, nil
}

// crl signs a CRL of st's revocations, current from now until
// nextUpdate. Its thisUpdate is backdated as certificates are: OpenSSL
// refuses a CRL from its future ("CRL is not yet valid"), and with it
// every certificate it checks, on a machine whose clock is behind the
// CA's. cfssl's CRL helper dates it now, so x509 makes it; its number
// is the time in nanoseconds, which grows from one CRL to the next also
// across directories of one CA name (a CA remade in a new directory).
func (iss *issuer) crl(st *caState, now, nextUpdate time.Time) ([]byte, error) {
	list := make([]x509.RevocationListEntry, 0, len(st.Revoked))
	for _, r := range st.Revoked {
		serial, err := ParseSerial(r.Serial)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(iss.dir, StateFile), err)
		}
		list = append(list, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt, ReasonCode: revocationReasons[r.Reason]})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now.Add(-defaultBackdate),
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: list,
	}, iss.cert, iss.key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL of %s: %w", iss.name, err)
	}
	return der, nil
}
