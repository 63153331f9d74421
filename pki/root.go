package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/initca"
)

// Default validity periods. A root outlives the province CAs it signs, and
// a province CA outlives the leaves it issues; issuance clamps a child to
// its issuer's validity.
const (
	DefaultRootValidity     = 20 * 365 * 24 * time.Hour
	DefaultProvinceValidity = 5 * 365 * 24 * time.Hour
	DefaultLeafValidity     = 365 * 24 * time.Hour
	// defaultBackdate absorbs clock skew between machines, as cfssl does.
	defaultBackdate = 5 * time.Minute
)

// rootOrganization is the O of every certificate subject this package
// makes; the root's OU carries the federation domain.
const rootOrganization = "LaborLink"

// RootOptions configures InitRoot.
type RootOptions struct {
	// Domain is the federation domain, e.g. "laborlink.example"; every
	// identity is spiffe://p<province>.<Domain>/... Required.
	Domain string
	// Validity of the root certificate; default DefaultRootValidity.
	Validity time.Duration
	// Backdate moves NotBefore this far into the past; default 5 minutes.
	// Tests use it to build CAs whose children are already expired.
	Backdate time.Duration
	// Force replaces an existing root in the directory.
	Force bool
}

// Root is the federation root CA, opened from its directory. It only signs
// province CAs; the root key should live on an offline machine.
type Root struct {
	// Dir is the root's directory.
	Dir string
	// Domain is the federation domain recorded in the root certificate.
	Domain string
	// Cert is the root certificate.
	Cert *x509.Certificate
	key  crypto.Signer
}

// InitRoot creates the federation root CA in dir: root.pem, root-key.pem
// (mode 0600) and an empty state.json. It uses cfssl's initca with an ECDSA
// P-256 key and a path length of 1 (root, province CA, leaf).
func InitRoot(dir string, opts RootOptions) (*Root, error) {
	if err := checkDomain(opts.Domain); err != nil {
		return nil, err
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultRootValidity
	}
	backdate := opts.Backdate
	if backdate == 0 {
		backdate = defaultBackdate
	}
	if validity < 0 || backdate < 0 {
		return nil, errors.New("root validity and backdate must be positive")
	}
	req := &csr.CertificateRequest{
		CN:         "LaborLink federation root CA",
		Names:      []csr.Name{{O: rootOrganization, OU: opts.Domain}},
		KeyRequest: csr.NewKeyRequest(), // ECDSA P-256
		CA: &csr.CAConfig{
			PathLength: 1,
			Expiry:     validity.String(),
			Backdate:   backdate.String(),
		},
	}
	certPEM, _, keyPEM, err := initca.New(req)
	if err != nil {
		return nil, fmt.Errorf("create root CA: %w", err)
	}
	if _, err := ParseCertificates("new root certificate", certPEM); err != nil {
		return nil, err
	}
	stateData, err := (&caState{}).marshal()
	if err != nil {
		return nil, err
	}
	outs := []output{
		{path: filepath.Join(dir, RootKeyFile), data: keyPEM, mode: 0o600},
		{path: filepath.Join(dir, RootCertFile), data: certPEM, mode: 0o644},
		{path: filepath.Join(dir, StateFile), data: stateData, mode: 0o644},
	}
	// A fresh root must not inherit another root's records.
	if exists(filepath.Join(dir, RootCertFile)) && !opts.Force {
		return nil, fmt.Errorf("refusing to overwrite %s: a root CA already exists there; move it away or pass --force", filepath.Join(dir, RootCertFile))
	}
	if err := commit(outs, opts.Force); err != nil {
		return nil, err
	}
	return OpenRoot(dir)
}

// OpenRoot loads the root CA from dir and checks that its key matches.
func OpenRoot(dir string) (*Root, error) {
	certPath, keyPath := filepath.Join(dir, RootCertFile), filepath.Join(dir, RootKeyFile)
	certs, err := ReadCertificates(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no root CA in %s: %s not found (create one with laborlink pki init-root)", dir, RootCertFile)
	}
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if !cert.IsCA || cert.CheckSignatureFrom(cert) != nil {
		return nil, fmt.Errorf("%s is not a self-signed CA certificate", certPath)
	}
	key, err := readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("root key %s not found: signing needs the root key (run this on the root machine)", keyPath)
	}
	if err != nil {
		return nil, err
	}
	if !keyMatches(key, cert) {
		return nil, fmt.Errorf("%s does not belong to %s", keyPath, certPath)
	}
	if len(cert.Subject.OrganizationalUnit) != 1 || checkDomain(cert.Subject.OrganizationalUnit[0]) != nil {
		return nil, fmt.Errorf("%s does not record a federation domain (subject OU): was it made by laborlink pki init-root?", certPath)
	}
	return &Root{Dir: dir, Domain: cert.Subject.OrganizationalUnit[0], Cert: cert, key: key}, nil
}

// checkCAValid refuses to sign with a CA outside its validity period.
func checkCAValid(what string, ca *x509.Certificate, now time.Time) error {
	if now.After(ca.NotAfter) {
		return fmt.Errorf("%s expired at %s: it cannot sign; renew it first", what, ca.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(ca.NotBefore) {
		return fmt.Errorf("%s is not valid until %s: check this machine's clock", what, ca.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// window computes a child's validity: the requested times, or now-backdate
// to now+validity by default, clamped to the issuer's validity.
func window(issuer *x509.Certificate, now, notBefore, notAfter time.Time, validity time.Duration) (time.Time, time.Time, error) {
	if notBefore.IsZero() {
		notBefore = now.Add(-defaultBackdate)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(defaultBackdate + validity)
	}
	if notBefore.Before(issuer.NotBefore) {
		notBefore = issuer.NotBefore
	}
	if notAfter.After(issuer.NotAfter) {
		notAfter = issuer.NotAfter
	}
	if !notBefore.Before(notAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("validity %s to %s is empty or outside the issuer's (%s to %s)",
			notBefore.UTC().Format(time.RFC3339), notAfter.UTC().Format(time.RFC3339),
			issuer.NotBefore.UTC().Format(time.RFC3339), issuer.NotAfter.UTC().Format(time.RFC3339))
	}
	return notBefore.UTC().Truncate(time.Second), notAfter.UTC().Truncate(time.Second), nil
}

// lockedState takes the lock on a CA directory's records (lockState) and
// reads its state, for a command that writes it back before unlock.
func lockedState(dir string) (st *caState, unlock func(), err error) {
	if unlock, err = lockState(dir); err != nil {
		return nil, nil, err
	}
	if st, err = readState(dir); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// readState loads a CA directory's state file; a missing file is empty state.
func readState(dir string) (*caState, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &caState{}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseState(filepath.Join(dir, StateFile), data)
}
