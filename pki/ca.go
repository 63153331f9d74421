package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// CA is a province's intermediate CA, opened from its directory. It issues
// the province's node, admin, system, auditor and operator certificates.
type CA struct {
	// Dir is the CA directory.
	Dir string
	// Province is the province code the CA is constrained to, e.g. "51".
	Province string
	// Domain is the federation domain.
	Domain string
	// Cert is the province CA certificate; Root the federation root.
	Cert, Root *x509.Certificate
	key        crypto.Signer
}

// OpenCA loads the province CA in dir (ca.pem, ca-key.pem, root.pem) and
// checks that the key matches, that the root signed the CA and that the CA
// carries province name constraints.
func OpenCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CACertFile)
	certs, err := ReadCertificates(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		if exists(filepath.Join(dir, CACSRFile)) {
			return nil, fmt.Errorf("no province CA in %s yet: %s is waiting for the root operator's signature (laborlink pki sign-province)", dir, CACSRFile)
		}
		return nil, fmt.Errorf("no province CA in %s: %s not found (start with laborlink pki csr)", dir, CACertFile)
	}
	if err != nil {
		return nil, err
	}
	ca := &CA{Dir: dir, Cert: certs[0]}
	if ca.Province, ca.Domain, err = caProvince(ca.Cert); err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	roots, err := ReadCertificates(filepath.Join(dir, RootCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s not found in %s: copy the federation root certificate next to %s", RootCertFile, dir, CACertFile)
	}
	if err != nil {
		return nil, err
	}
	ca.Root = roots[0]
	if err := ca.Cert.CheckSignatureFrom(ca.Root); err != nil {
		return nil, fmt.Errorf("%s was not signed by the root in %s: %w", certPath, RootCertFile, err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	ca.key, err = readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("province CA key %s not found: issue certificates on the machine that made the CSR", keyPath)
	}
	if err != nil {
		return nil, err
	}
	if !keyMatches(ca.key, ca.Cert) {
		return nil, fmt.Errorf("%s does not belong to %s (was the CSR made again after signing?)", keyPath, certPath)
	}
	return ca, nil
}

// IssueRequest describes a leaf certificate.
type IssueRequest struct {
	// Kind and Name make the identity spiffe://p<province>.<domain>/<kind>/<name>.
	Kind Kind
	Name string
	// Province, if set, must be the CA's own province; it lets callers say
	// which province they mean and get a clear refusal otherwise.
	Province string
	// DNSNames and IPAddresses are extra SANs, for node certificates only.
	// DNS names must lie within p<province>.<domain>.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity; default DefaultLeafValidity, never beyond the CA's NotAfter.
	Validity time.Duration
	// NotBefore and NotAfter override the validity window (tests).
	NotBefore, NotAfter time.Time
	// OutDir receives the files; default the CA directory.
	OutDir string
	// Force replaces existing files of the same kind and name (rotation).
	Force bool
}

// Leaf is an issued certificate and where it was written.
type Leaf struct {
	// Identity is the certificate's identity.
	Identity Identity
	// Cert is the leaf certificate.
	Cert *x509.Certificate
	// CertFile holds the leaf followed by the province CA; KeyFile the key (0600).
	CertFile, KeyFile string
}

// Identity returns the identity a request would get from this CA.
func (ca *CA) identity(kind Kind, name string) Identity {
	return Identity{Domain: ca.Domain, Province: ca.Province, Kind: kind, Name: name}
}

// check validates a request against what this CA may issue.
func (ca *CA) check(req IssueRequest) error {
	if req.Province != "" && req.Province != ca.Province {
		return fmt.Errorf("this CA belongs to province %s (%s) and cannot issue identities of province %s", ca.Province, ProvinceName(ca.Province), req.Province)
	}
	if _, err := ParseKind(string(req.Kind)); err != nil {
		return err
	}
	if err := CheckName(req.Name); err != nil {
		return err
	}
	if req.Kind != KindNode && (len(req.DNSNames) > 0 || len(req.IPAddresses) > 0) {
		return fmt.Errorf("only node certificates carry DNS names or IP addresses; a %s certificate is a client certificate", req.Kind)
	}
	host := ProvinceHost(ca.Province, ca.Domain)
	for _, d := range req.DNSNames {
		if !validDNSName(d) {
			return fmt.Errorf("invalid DNS name %q", d)
		}
		if !dnsWithin(d, host) {
			return fmt.Errorf("DNS name %q is outside province %s's names (%s and *.%s); in development address nodes by IP instead", d, ca.Province, host, host)
		}
	}
	for _, ip := range req.IPAddresses {
		if ip == nil {
			return errors.New("invalid IP address")
		}
		if len(ca.Cert.PermittedIPRanges) > 0 && !ipWithin(ip, ca.Cert.PermittedIPRanges) {
			return fmt.Errorf("IP address %s is outside the ranges province %s's CA may certify (%v)", ip, ca.Province, ca.Cert.PermittedIPRanges)
		}
	}
	return nil
}

// Issue creates a key and certificate for kind/name in the CA's province
// and writes <kind>-<name>.pem (leaf + CA) and <kind>-<name>-key.pem
// (0600). Node certificates are valid for server and client auth, every
// other kind for client auth only. Before anything is written, the new
// certificate is verified against the root with Go's verifier, which
// enforces the CA's name constraints.
func (ca *CA) Issue(req IssueRequest) (*Leaf, error) {
	now := time.Now()
	if err := ca.check(req); err != nil {
		return nil, err
	}
	if err := checkCAValid("province CA p"+ca.Province, ca.Cert, now); err != nil {
		return nil, err
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	notBefore, notAfter, err := window(ca.Cert, now, req.NotBefore, req.NotAfter, validity)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	id := ca.identity(req.Kind, req.Name)
	subject := csr.Name{O: rootOrganization, OU: provinceOU(ca.Province)}
	// The CN is informational; its spaces keep OpenSSL from reading it as a
	// host name to check against the DNS name constraints.
	cn := fmt.Sprintf("p%s %s %s", ca.Province, req.Kind, req.Name)
	csrPEM, keyPEM, err := csr.ParseRequest(&csr.CertificateRequest{
		CN: cn, Names: []csr.Name{subject}, KeyRequest: csr.NewKeyRequest(),
	})
	if err != nil {
		return nil, fmt.Errorf("create key for %s: %w", id, err)
	}
	hosts := []string{id.URI()}
	for _, d := range req.DNSNames {
		hosts = append(hosts, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	for _, ip := range req.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	cert, err := ca.sign(csrPEM, req.Kind, hosts, &signer.Subject{CN: cn, Names: []csr.Name{subject}}, notBefore, notAfter)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", id, err)
	}
	if err := ca.verifyIssued(cert, id); err != nil {
		return nil, fmt.Errorf("issued certificate for %s does not verify, nothing written: %w", id, err)
	}

	outDir := req.OutDir
	if outDir == "" {
		outDir = ca.Dir
	}
	certName, keyName := LeafFiles(req.Kind, req.Name)
	leaf := &Leaf{Identity: id, Cert: cert, CertFile: filepath.Join(outDir, certName), KeyFile: filepath.Join(outDir, keyName)}
	st, unlock, err := lockedState(ca.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st.recordIssued(cert, now)
	stateData, err := st.marshal()
	if err != nil {
		return nil, err
	}
	// The record first: a crash between it and the certificate leaves a
	// serial listed that no file carries, where the other order left a
	// certificate that authenticates but is not listed, which revoking
	// then needed --force for.
	outs := []output{
		{path: filepath.Join(ca.Dir, StateFile), data: stateData, mode: 0o644, record: true},
		{path: leaf.KeyFile, data: keyPEM, mode: 0o600},
		{path: leaf.CertFile, data: encodeCerts(cert, ca.Cert), mode: 0o644},
	}
	if err := commit(outs, req.Force); err != nil {
		return nil, err
	}
	return leaf, nil
}

// leafUsages are the cfssl usages per kind: nodes serve and call, every
// other kind only authenticates as a client.
func leafUsages(kind Kind) []string {
	if kind == KindNode {
		return []string{"digital signature", "server auth", "client auth"}
	}
	return []string{"digital signature", "client auth"}
}

// sign runs cfssl's local signer with a profile that copies only the public
// key from the request; SANs come from hosts.
func (ca *CA) sign(csrPEM []byte, kind Kind, hosts []string, subject *signer.Subject, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	profile := &config.SigningProfile{
		Usage:        leafUsages(kind),
		Expiry:       notAfter.Sub(notBefore),
		CSRWhitelist: &config.CSRWhitelist{PublicKey: true, PublicKeyAlgorithm: true},
	}
	s, err := local.NewSigner(ca.key, ca.Cert, signer.DefaultSigAlgo(ca.key), &config.Signing{Default: profile})
	if err != nil {
		return nil, fmt.Errorf("province signer: %w", err)
	}
	certPEM, err := s.Sign(signer.SignRequest{
		Request:   string(csrPEM),
		Hosts:     hosts,
		Subject:   subject,
		NotBefore: notBefore,
		NotAfter:  notAfter,
	})
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates("signed certificate", certPEM)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// verifyIssued checks a fresh leaf the way a peer will: chain to the root
// with name constraints, at a moment inside its validity.
func (ca *CA) verifyIssued(cert *x509.Certificate, want Identity) error {
	got, err := IdentityFromCert(cert)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("identity %s, want %s", got.URI(), want.URI())
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Root)
	inter.AddCert(ca.Cert)
	_, err = cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: cert.NotBefore,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

// validDNSName accepts lower- or upper-case host names without wildcards.
func validDNSName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(strings.ToLower(l)) {
			return false
		}
	}
	return true
}

func ipWithin(ip net.IP, nets []*net.IPNet) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
