package registry

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// signer is a verified command author.
type signer struct {
	pki.Identity
	cert *x509.Certificate
}

// authenticate verifies a command's signer deterministically with pki's
// verifier: the leaf is chained through the signer province's CA
// certificates held in the registry (never ones the command brings) to the
// federation roots held in the registry, at the command's leader-assigned
// time, refusing serials the registry lists as revoked. Nothing here reads
// the clock or local files, so every replica reaches the same verdict.
// msg is env's SigningBytes, or msgErr why they could not be made.
func (s *state) authenticate(env *Envelope, msg []byte, msgErr error) (signer, *Error) {
	if len(env.Sig) == 0 || len(env.Chain) == 0 || env.By == "" {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %s command is not signed (by, chain and sig are required)", env.Op)
	}
	certs, err := pki.ParseCertificates("signer chain", env.Chain)
	if err != nil {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %v", err)
	}
	leaf := certs[0]
	claimed, err := pki.IdentityFromCert(leaf)
	if err != nil {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %v", err)
	}
	if claimed.URI() != env.By {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: command says it is by %s but the certificate is %s", env.By, claimed.URI())
	}
	m := s.Members[claimed.Province]
	if m == nil {
		return signer{}, Errorf(EForbidden, "province %s of %s is not a member of the federation", claimed.Province, claimed)
	}
	chain := []*x509.Certificate{leaf}
	for _, ca := range m.cas {
		if !env.At.Before(ca.NotBefore) && !env.At.After(ca.NotAfter) {
			chain = append(chain, ca)
		}
	}
	if msgErr != nil {
		return signer{}, Errorf(EInvalid, "%v", msgErr)
	}
	digest := sha256.Sum256(msg)
	v := &pki.Verifier{
		Roots:      s.rootPool,
		Domain:     s.Domain,
		Revocation: pki.RevokedFunc(s.isRevoked),
		Now:        func() time.Time { return env.At },
	}
	id, err := v.VerifySignature(chain, digest[:], env.Sig)
	if err != nil {
		if errors.Is(err, pki.ErrWrongPeer) {
			return signer{}, Errorf(EForbidden, "%s: %v", claimed, err)
		}
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %s %s at %s: %v", claimed, env.Op, env.At.Format(time.RFC3339), err)
	}
	return signer{Identity: id, cert: leaf}, nil
}

func (s *state) isRevoked(cert *x509.Certificate) bool {
	_, ok := s.Revoked[provinceSerial(pki.CertProvince(cert), serialKey(cert.SerialNumber.Bytes()))]
	return ok
}

// isSteward reports whether the province may change federation-wide state.
func (s *state) isSteward(province string) bool { return slices.Contains(s.Stewards, province) }
