package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloudflare/cfssl/helpers"

	"github.com/laborlink/laborlink/pki/durable"
)

// File names inside a root or province CA directory. docs/pki.md describes
// the layout; these constants are its single source.
const (
	// RootCertFile is the federation root certificate; every party has a copy.
	RootCertFile = "root.pem"
	// RootKeyFile is the root private key; it stays on the offline root machine.
	RootKeyFile = "root-key.pem"
	// CACertFile is a province's intermediate CA certificate.
	CACertFile = "ca.pem"
	// CAKeyFile is a province's intermediate CA key; it never leaves the province.
	CAKeyFile = "ca-key.pem"
	// CACSRFile is the request a province sends to the root operator.
	CACSRFile = "ca.csr"
	// StateFile records what a CA issued and revoked (JSON).
	StateFile = "state.json"
	// CRLFile is the CA's latest signed revocation list (PEM "X509 CRL").
	CRLFile = "crl.pem"
)

// LeafFiles returns the certificate and key file names of a leaf: the
// certificate file holds the leaf followed by its province CA, ready for TLS.
func LeafFiles(kind Kind, name string) (certFile, keyFile string) {
	base := string(kind) + "-" + name
	return base + ".pem", base + "-key.pem"
}

// output is one file an operation will write. Operations compute every
// output in memory first and write them all in commit, so that a bad input
// writes nothing.
type output struct {
	path string
	data []byte
	mode fs.FileMode
	// record marks a CA's own record (state, CRL), which is updated in place;
	// keys and certificates are never replaced without force.
	record bool
}

// commit writes outputs. Before writing anything it refuses if a key or
// certificate would be replaced without force; a file that already holds
// exactly the same bytes is not a replacement. Each file is written to a
// temporary file and renamed, so readers (and the KeyPair reloader) never
// see half a file, and synced with its directory before the next.
func commit(outs []output, force bool) error {
	var clash []string
	for _, o := range outs {
		if o.record || force {
			continue
		}
		old, err := os.ReadFile(o.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", o.path, err)
		}
		if !bytes.Equal(old, o.data) {
			clash = append(clash, o.path)
		}
	}
	if len(clash) > 0 {
		return fmt.Errorf("refusing to overwrite %s: move it away or pass --force", strings.Join(clash, ", "))
	}
	for _, o := range outs {
		if err := writeFileAtomic(o.path, o.data, o.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes one output whole and durably (durable.WriteFile):
// a rotated key or an issued certificate the command reported written must
// still be there after a crash, and readers never see half of it.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	// 0700: a CA's directory holds its key and its records of what it
	// issued, which are nobody else's to list or read.
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return durable.WriteFile(path, data, mode)
}

// encodeCerts PEM-encodes certificates in order.
func encodeCerts(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// ReadCertificates reads a PEM file of one or more certificates
// (ParseCertificates), naming the file in errors.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCertificates(path, data)
}

// ReadCertPool reads a PEM file of one or more certificates into a pool,
// as ReadCertificates reads it.
func ReadCertPool(path string) (*x509.CertPool, error) {
	certs, err := ReadCertificates(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCertificates parses PEM data that must hold one or more
// certificates and nothing but: a PEM block of another type is refused, not
// skipped, so that a key given where certificates belong is neither taken
// for them nor published with them. Text between blocks is ignored. Errors
// name source (a file, a field), and the block by its place.
func ParseCertificates(source string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is a %s, not a CERTIFICATE", source, n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d is malformed: %w", source, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", source)
	}
	return certs, nil
}

// readKey reads a PEM private key (SEC1, PKCS#1 or PKCS#8).
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := helpers.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed private key: %w", path, err)
	}
	return key, nil
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	return keyMatchesPub(key.Public(), cert)
}

// exists reports whether path exists (errors other than not-exist count as
// existing, so that callers go on to report them when reading).
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
