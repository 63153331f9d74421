package registry

import (
	"crypto/x509"
	"slices"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// signer is a verified command author.
type signer struct {
	pki.Identity
	cert *x509.Certificate
}

// authenticate verifies a command's signer deterministically: the chain is
// checked against the federation roots and the signer province's CA
// certificates held in the registry, at the command's leader-assigned time,
// and against the registry's revoked serials. Nothing here reads the clock or
// local files, so every replica reaches the same verdict.
func (s *state) authenticate(env *Envelope) (signer, *Error) {
	if len(env.Sig) == 0 || len(env.Chain) == 0 || env.By == "" {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %s command is not signed (by, chain and sig are required)", env.Op)
	}
	certs, err := parseCerts("signer chain", env.Chain)
	if err != nil {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %v", err)
	}
	leaf := certs[0]
	id, err := pki.IdentityFromCert(leaf)
	if err != nil {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: %v", err)
	}
	if id.URI() != env.By {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: command says it is by %s but the certificate is %s", env.By, id.URI())
	}
	if id.Domain != s.Domain {
		return signer{}, Errorf(EForbidden, "%s belongs to federation %q, not %q", id, id.Domain, s.Domain)
	}
	m := s.Members[id.Province]
	if m == nil {
		return signer{}, Errorf(EForbidden, "province %s of %s is not a member of the federation", id.Province, id)
	}
	inter := x509.NewCertPool()
	for _, c := range m.cas {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.rootPool,
		Intermediates: inter,
		CurrentTime:   env.At,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: certificate of %s does not verify at %s: %v", id, env.At.Format(time.RFC3339), err)
	}
	if !s.throughMemberCA(chains, m) {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: certificate of %s is not issued by province %s's registered CA", id, id.Province)
	}
	for _, ch := range chains {
		for _, c := range ch {
			if _, ok := s.Revoked[serialKey(c.SerialNumber.Bytes())]; ok {
				return signer{}, Errorf(EUnauthenticated, "signature invalid: certificate serial %x in the chain of %s is revoked", c.SerialNumber, id)
			}
		}
	}
	msg, err := env.SigningBytes()
	if err != nil {
		return signer{}, Errorf(EInvalid, "%v", err)
	}
	if !checkSignature(leaf.PublicKey, msg, env.Sig) {
		return signer{}, Errorf(EUnauthenticated, "signature invalid: the signature of %s does not match the %s command", id, env.Op)
	}
	return signer{Identity: id, cert: leaf}, nil
}

// throughMemberCA reports whether some verified chain runs through one of
// the member's registered CA certificates, rather than straight to a root.
func (s *state) throughMemberCA(chains [][]*x509.Certificate, m *Member) bool {
	for _, ch := range chains {
		if len(ch) < 3 {
			continue
		}
		if slices.ContainsFunc(m.cas, func(c *x509.Certificate) bool { return c.Equal(ch[1]) }) {
			return true
		}
	}
	return false
}

// isSteward reports whether the province may change federation-wide state.
func (s *state) isSteward(province string) bool { return slices.Contains(s.Stewards, province) }
