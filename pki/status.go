package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ExpiryWarning is how close to its NotAfter a certificate gets a warning.
const ExpiryWarning = 30 * 24 * time.Hour

// CertStatus describes one certificate file found by Status.
type CertStatus struct {
	// File is the certificate file's path.
	File string
	// Role is "root CA", "province CA" or the identity's kind.
	Role string
	// Who says whom the certificate identifies: the federation domain for
	// the root, the province for a CA, the identity URI for a leaf.
	Who string
	// Serial is the hexadecimal serial number.
	Serial string
	// NotBefore and NotAfter are the validity window.
	NotBefore, NotAfter time.Time
	// Revoked is the reason if the directory's CA revoked it, else "".
	Revoked string
	// Problems lists what needs attention: expiry, upcoming expiry,
	// revocation, a chain that does not verify.
	Problems []string
}

// StatusReport is what Status found in a directory.
type StatusReport struct {
	// Dir is the directory examined.
	Dir string
	// Certs lists the certificate files, in file name order.
	Certs []CertStatus
	// Notes are findings about the directory as a whole: a CSR waiting for
	// signature, a stale CRL, a key file others can read.
	Notes []string
}

// Warnings counts the problems and notes in the report.
func (r *StatusReport) Warnings() int {
	n := len(r.Notes)
	for _, c := range r.Certs {
		n += len(c.Problems)
	}
	return n
}

// Status examines a root, province CA or node directory at time now: what
// certificates are there, who they identify, when they expire (with a
// warning under ExpiryWarning), and whether anything needs attention.
func Status(dir string, now time.Time) (*StatusReport, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", dir, err)
	}
	rep := &StatusReport{Dir: dir}
	st, err := readState(dir)
	if err != nil {
		rep.Notes = append(rep.Notes, err.Error())
		st = &caState{}
	}
	var roots *x509.CertPool
	if rc, err := ReadCertificates(filepath.Join(dir, RootCertFile)); err == nil {
		roots = x509.NewCertPool()
		roots.AddCert(rc[0])
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case e.IsDir() || !strings.HasSuffix(name, ".pem"):
			continue
		case strings.HasSuffix(name, "-key.pem"):
			if info, err := e.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("key %s has mode %04o: others can read it; run chmod 600 %s", name, info.Mode().Perm(), path))
			}
			continue
		case name == CRLFile:
			rep.Notes = append(rep.Notes, crlNote(path, now)...)
			continue
		}
		chain, err := ReadCertificates(path)
		if err != nil {
			rep.Notes = append(rep.Notes, err.Error())
			continue
		}
		rep.Certs = append(rep.Certs, certStatus(path, chain, roots, st, now))
	}
	if exists(filepath.Join(dir, CACSRFile)) && !exists(filepath.Join(dir, CACertFile)) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is waiting for the root operator's signature", CACSRFile))
	}
	if len(rep.Certs) == 0 && len(rep.Notes) == 0 {
		rep.Notes = append(rep.Notes, "no certificates here")
	}
	return rep, nil
}

func certStatus(path string, chain []*x509.Certificate, roots *x509.CertPool, st *caState, now time.Time) CertStatus {
	c := chain[0]
	cs := CertStatus{File: path, Serial: serialString(c.SerialNumber), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	switch {
	case c.IsCA && c.CheckSignatureFrom(c) == nil:
		cs.Role = "root CA"
		cs.Who = "federation " + strings.Join(c.Subject.OrganizationalUnit, ",")
	case c.IsCA:
		cs.Role = "province CA"
		if p, d, err := caProvince(c); err == nil {
			cs.Who = fmt.Sprintf("province %s (%s), %s", p, ProvinceName(p), d)
		} else {
			cs.Who = c.Subject.CommonName
			cs.Problems = append(cs.Problems, err.Error())
		}
	default:
		id, err := IdentityFromCert(c)
		if err != nil {
			cs.Role, cs.Who = "leaf", c.Subject.CommonName
			cs.Problems = append(cs.Problems, err.Error())
			break
		}
		cs.Role, cs.Who = string(id.Kind), id.URI()
		if roots != nil {
			v := &Verifier{Roots: roots, Now: func() time.Time { return now }}
			if _, err := v.Verify(chain, x509.ExtKeyUsageAny); err != nil && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrNotYetValid) {
				cs.Problems = append(cs.Problems, "does not verify: "+err.Error())
			}
		}
	}
	if r, ok := st.revoked(c.SerialNumber); ok {
		cs.Revoked = r.Reason
		cs.Problems = append(cs.Problems, fmt.Sprintf("revoked %s (%s)", r.RevokedAt.Format(time.RFC3339), r.Reason))
	}
	switch left := c.NotAfter.Sub(now); {
	case left < 0:
		cs.Problems = append(cs.Problems, "EXPIRED at "+c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		cs.Problems = append(cs.Problems, "not valid until "+c.NotBefore.UTC().Format(time.RFC3339))
	case left < ExpiryWarning:
		cs.Problems = append(cs.Problems, fmt.Sprintf("expires in %d days: rotate it", int(left.Hours()/24)))
	}
	return cs
}

func crlNote(path string, now time.Time) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return []string{path + ": no PEM X509 CRL block"}
	}
	list, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return []string{fmt.Sprintf("%s: malformed CRL: %v", path, err)}
	}
	if !list.NextUpdate.IsZero() && now.After(list.NextUpdate) {
		return []string{fmt.Sprintf("%s is stale since %s: republish with laborlink pki crl", filepath.Base(path), list.NextUpdate.UTC().Format(time.RFC3339))}
	}
	return nil
}
