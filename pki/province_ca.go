package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// CSROptions configures NewProvinceCSR.
type CSROptions struct {
	// Force replaces an existing key and request in the directory.
	Force bool
}

// provinceOU is the subject OU that names a province in CA requests and
// certificates, e.g. "p51".
func provinceOU(province string) string { return "p" + province }

// NewProvinceCSR makes a province's CA key and certificate request in dir:
// ca-key.pem (mode 0600, never leaves the province) and ca.csr, which goes
// to the root operator. It returns the path of the request.
func NewProvinceCSR(dir, province string, opts CSROptions) (string, error) {
	if err := checkProvince(province); err != nil {
		return "", err
	}
	if exists(filepath.Join(dir, CACertFile)) && !opts.Force {
		return "", fmt.Errorf("%s already holds a signed province CA (%s); use a new directory for a new CA, or pass --force", dir, CACertFile)
	}
	req := &csr.CertificateRequest{
		CN:         "LaborLink " + provinceOU(province) + " CA",
		Names:      []csr.Name{{O: rootOrganization, OU: provinceOU(province)}},
		KeyRequest: csr.NewKeyRequest(), // ECDSA P-256
	}
	csrPEM, keyPEM, err := csr.ParseRequest(req)
	if err != nil {
		return "", fmt.Errorf("create CA key and request for province %s: %w", province, err)
	}
	csrPath := filepath.Join(dir, CACSRFile)
	outs := []output{
		{path: filepath.Join(dir, CAKeyFile), data: keyPEM, mode: 0o600},
		{path: csrPath, data: csrPEM, mode: 0o644},
	}
	if err := commit(outs, opts.Force); err != nil {
		return "", err
	}
	return csrPath, nil
}

// parseProvinceCSR checks a province CA request and returns it with the
// province it names. The request's signature proves possession of the key;
// the province comes from the subject OU "p<code>".
func parseProvinceCSR(source string, data []byte) (*x509.CertificateRequest, string, error) {
	block, rest := pem.Decode(data)
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, "", fmt.Errorf("malformed CSR %s: no PEM CERTIFICATE REQUEST block", source)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, "", fmt.Errorf("malformed CSR %s: unexpected data after the request", source)
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("malformed CSR %s: %w", source, err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("malformed CSR %s: signature does not verify: %w", source, err)
	}
	pub, ok := req.PublicKey.(*ecdsa.PublicKey)
	if !ok || (pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384()) {
		return nil, "", fmt.Errorf("CSR %s: key must be ECDSA P-256 or P-384 (make it with laborlink pki csr)", source)
	}
	var province string
	for _, ou := range req.Subject.OrganizationalUnit {
		if len(ou) == 3 && ou[0] == 'p' {
			if province != "" {
				return nil, "", fmt.Errorf("CSR %s names more than one province", source)
			}
			province = ou[1:]
		}
	}
	if province == "" {
		return nil, "", fmt.Errorf("CSR %s names no province (subject OU p<code>); make it with laborlink pki csr --province", source)
	}
	if err := checkProvince(province); err != nil {
		return nil, "", fmt.Errorf("CSR %s: %w", source, err)
	}
	return req, province, nil
}

// SignProvinceOptions configures Root.SignProvince.
type SignProvinceOptions struct {
	// Province, if set, is the province the root operator expects; a
	// request for any other province is refused. The CLI asks for it so
	// that a file mix-up cannot hand one province another's CA.
	Province string
	// PermittedIPs, if not empty, limits the IP SANs the province CA may
	// issue. Empty leaves IP addresses unconstrained (see docs/pki.md).
	PermittedIPs []*net.IPNet
	// Validity of the province CA; default DefaultProvinceValidity, and
	// never beyond the root's NotAfter.
	Validity time.Duration
	// NotBefore and NotAfter override the validity window (tests).
	NotBefore, NotAfter time.Time
	// OutDir receives ca.pem and a copy of root.pem; default: the
	// directory of the request, so that the directory travels back.
	OutDir string
	// Force replaces existing ca.pem/root.pem in OutDir.
	Force bool
}

// ProvinceCert is the result of signing a province CA.
type ProvinceCert struct {
	// Province is the province code the CA is constrained to.
	Province string
	// Cert is the signed intermediate certificate.
	Cert *x509.Certificate
	// CertFile and RootFile are where ca.pem and root.pem were written.
	CertFile, RootFile string
}

// SignProvince signs the province CA request in csrFile with cfssl's local
// signer. The intermediate carries critical X.509 name constraints that
// permit only URIs with host p<province>.<domain> and DNS names in that
// subtree, and a path length of 0, so it can issue identities of its own
// province only. ca.pem and root.pem are written to opts.OutDir.
func (r *Root) SignProvince(csrFile string, opts SignProvinceOptions) (*ProvinceCert, error) {
	now := time.Now()
	if opts.Province != "" {
		if err := checkProvince(opts.Province); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(csrFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CSR %s not found", csrFile)
	}
	if err != nil {
		return nil, err
	}
	req, province, err := parseProvinceCSR(csrFile, data)
	if err != nil {
		return nil, err
	}
	if opts.Province != "" && province != opts.Province {
		return nil, fmt.Errorf("CSR %s is for province %s (%s), not %s (%s): refusing to sign",
			csrFile, province, ProvinceName(province), opts.Province, ProvinceName(opts.Province))
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = filepath.Dir(csrFile)
	}
	if sameDir(outDir, r.Dir) {
		// A directory with ca.pem is a province CA's to revoke and crl,
		// which would then no longer find the root there.
		return nil, fmt.Errorf("refusing to write %s into the root directory %s: move the request out of it, or pass --out DIR", CACertFile, r.Dir)
	}
	if err := checkCAValid("root CA", r.Cert, now); err != nil {
		return nil, err
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultProvinceValidity
	}
	notBefore, notAfter, err := window(r.Cert, now, opts.NotBefore, opts.NotAfter, validity)
	if err != nil {
		return nil, fmt.Errorf("province CA: %w", err)
	}
	nc, err := provinceConstraints(province, r.Domain, opts.PermittedIPs)
	if err != nil {
		return nil, err
	}
	cert, err := r.sign(data, province, nc, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	// Never hand out an intermediate whose constraints did not come through.
	if p, d, err := caProvince(cert); err != nil || p != province || d != r.Domain {
		return nil, fmt.Errorf("signed province CA lacks the expected name constraints (%v); nothing written", err)
	}
	if !keyMatchesPub(req.PublicKey, cert) {
		return nil, errors.New("signed province CA does not carry the requested key; nothing written")
	}

	st, unlock, err := lockedState(r.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st.recordIssued(cert, now)
	stateData, err := st.marshal()
	if err != nil {
		return nil, err
	}
	res := &ProvinceCert{
		Province: province,
		Cert:     cert,
		CertFile: filepath.Join(outDir, CACertFile),
		RootFile: filepath.Join(outDir, RootCertFile),
	}
	// The record first: a crash before the certificate is written leaves
	// a serial listed that no file carries, never a CA the root cannot
	// revoke without --force (see Issue).
	outs := []output{
		{path: filepath.Join(r.Dir, StateFile), data: stateData, mode: 0o644, record: true},
		{path: res.CertFile, data: encodeCerts(cert), mode: 0o644},
		{path: res.RootFile, data: encodeCerts(r.Cert), mode: 0o644},
	}
	if err := commit(outs, opts.Force); err != nil {
		return nil, err
	}
	return res, nil
}

// sign runs cfssl's local signer over a province request. The profile
// copies only the public key from the request (the subject is set here and
// SANs are dropped), and whitelists the name constraints extension, which
// cfssl copies from the SignRequest into the certificate.
func (r *Root) sign(csrPEM []byte, province string, nc []byte, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	profile := &config.SigningProfile{
		Usage:        []string{"cert sign", "crl sign"},
		Expiry:       notAfter.Sub(notBefore),
		CAConstraint: config.CAConstraint{IsCA: true, MaxPathLen: 0, MaxPathLenZero: true},
		CSRWhitelist: &config.CSRWhitelist{PublicKey: true, PublicKeyAlgorithm: true},
		ExtensionWhitelist: map[string]bool{
			oidNameConstraints.String(): true,
		},
	}
	s, err := local.NewSigner(r.key, r.Cert, signer.DefaultSigAlgo(r.key), &config.Signing{Default: profile})
	if err != nil {
		return nil, fmt.Errorf("root signer: %w", err)
	}
	certPEM, err := s.Sign(signer.SignRequest{
		Request: string(csrPEM),
		Subject: &signer.Subject{
			CN:    "LaborLink " + provinceOU(province) + " CA",
			Names: []csr.Name{{O: rootOrganization, OU: provinceOU(province)}},
		},
		Extensions: []signer.Extension{{
			ID:       config.OID(oidNameConstraints),
			Critical: true, // RFC 5280 4.2.1.10: conforming CAs MUST mark it critical
			Value:    hex.EncodeToString(nc),
		}},
		NotBefore: notBefore,
		NotAfter:  notAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("sign province %s CA: %w", province, err)
	}
	certs, err := ParseCertificates("signed province CA", certPEM)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// sameDir reports whether a and b are the same existing directory.
func sameDir(a, b string) bool {
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && os.SameFile(ai, bi)
}

// keyMatchesPub reports whether cert carries the public key pub.
func keyMatchesPub(pub crypto.PublicKey, cert *x509.Certificate) bool {
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(cert.PublicKey)
}
