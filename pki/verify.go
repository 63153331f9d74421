package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Verifier checks that a certificate chain speaks for a federation
// identity: it leads to the federation root, every certificate in it is
// within its validity and not revoked, the province CA is constrained to
// the identity's province, and the leaf may be used as asked. Errors wrap
// the Err* values of this package and say which certificate failed.
//
// A Verifier is safe for concurrent use once built; do not change its
// fields afterwards.
type Verifier struct {
	// Roots is the federation root pool. Required.
	Roots *x509.CertPool
	// Revocation, if not nil, refuses revoked serials (leaf and CA).
	Revocation RevocationChecker
	// Domain, if set, refuses identities of any other federation domain.
	Domain string
	// Member, if not nil, refuses identities of provinces it says are not
	// members of the federation: the root still vouches for a removed
	// province's CA, so only the member list can shut its certificates out.
	Member func(province string) bool
	// ListedCA, if not nil, refuses a leaf unless the province CA
	// certificate that issued it is one ListedCA says the federation lists
	// for the leaf's province now: a CA the province rotated away from is
	// still signed by the root, so only the member list can stop it from
	// vouching for the leaves it issued. It is asked about the issuing CA of
	// every chain the presented certificates form, and all must pass.
	ListedCA func(province string, ca *x509.Certificate) bool
	// Now is the clock; nil means time.Now. Set it to a record's time to
	// verify signatures deterministically (registry replay).
	Now func() time.Time

	// verified remembers chains that built to the root (see Verify), so a
	// node can verify a connection's chain again at each request cheaply;
	// presented finds them again without hashing for the very certificates
	// a connection presented before.
	mu        sync.Mutex
	verified  map[[sha256.Size]byte]builtChain
	presented map[presentedKey]presentedChain
}

// presentedKey names a chain by the parsed leaf a connection presented:
// each request on the connection presents the same certificates again.
type presentedKey struct {
	leaf  *x509.Certificate
	n     int
	usage x509.ExtKeyUsage
}

// presentedChain is one presented chain and what building it found. It
// holds the presented certificates, so their addresses are not reused for
// others while it is remembered; certificates are not changed once parsed,
// so the same pointers are the same certificates.
type presentedChain struct {
	chain []*x509.Certificate
	built builtChain
}

// builtChain is what x509 path building found for one presented chain.
type builtChain struct {
	id     Identity
	chains [][]*x509.Certificate
}

// maxVerified bounds the chains a Verifier remembers; nodes see a few dozen.
const maxVerified = 1024

// PeerPolicy narrows which verified identities a connection accepts.
// The zero value accepts any member of the federation.
type PeerPolicy struct {
	// Kinds, if not empty, lists the accepted kinds (the peer API accepts
	// only KindNode).
	Kinds []Kind
	// Province, if set, is the only accepted province (a node calling p44
	// expects a p44 node).
	Province string
	// Name, if set, is the only accepted name.
	Name string
}

// Check returns an error wrapping ErrKindNotAllowed or ErrWrongPeer if id
// does not satisfy the policy.
func (p PeerPolicy) Check(id Identity) error {
	if len(p.Kinds) > 0 && !slices.Contains(p.Kinds, id.Kind) {
		names := make([]string, len(p.Kinds))
		for i, k := range p.Kinds {
			names[i] = string(k)
		}
		return &certError{ErrKindNotAllowed, fmt.Sprintf("kind %s not allowed here (%s; allowed: %s)", id.Kind, id, strings.Join(names, ", "))}
	}
	if p.Province != "" && id.Province != p.Province {
		return &certError{ErrWrongPeer, fmt.Sprintf("peer %s belongs to province %s, expected province %s", id, id.Province, p.Province)}
	}
	if p.Name != "" && id.Name != p.Name {
		return &certError{ErrWrongPeer, fmt.Sprintf("peer %s is not the expected %s", id, p.Name)}
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify verifies chain (leaf first, then any intermediates the peer sent)
// for usage (x509.ExtKeyUsageClientAuth, ExtKeyUsageServerAuth, or
// ExtKeyUsageAny for signatures) and returns the leaf's identity.
func (v *Verifier) Verify(chain []*x509.Certificate, usage x509.ExtKeyUsage) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, &certError{ErrNoCertificate, "peer presented no certificate"}
	}
	if v.Roots == nil {
		return Identity{}, errors.New("pki: Verifier has no root pool")
	}
	now := v.now()
	for _, c := range chain {
		if err := checkTime(c, now); err != nil {
			return Identity{}, err
		}
	}
	built, err := v.build(chain, usage, now)
	if err != nil {
		return Identity{}, err
	}
	id, chains := built.id, built.chains
	if v.Revocation != nil {
		// Every chain the peer's certificates form is checked: with two
		// paths to the root (a re-issued province CA), checking one would
		// let the revoked other pass.
		for _, ch := range chains {
			for _, c := range ch[:len(ch)-1] {
				if v.Revocation.Revoked(c) {
					return Identity{}, &certError{ErrRevoked, fmt.Sprintf("certificate revoked (serial %s, %s)", serialString(c.SerialNumber), describe(c))}
				}
			}
		}
	}
	if v.Member != nil && !v.Member(id.Province) {
		return Identity{}, &certError{ErrNotMember, fmt.Sprintf("%s: province %s is not a member of the federation", id, id.Province)}
	}
	if err := v.checkListed(id, chains); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// checkListed refuses chains whose leaf's issuer ListedCA does not list
// for the identity's province. Every chain is asked, as for revocation:
// with two paths to the root, passing one would let the other through.
func (v *Verifier) checkListed(id Identity, chains [][]*x509.Certificate) error {
	if v.ListedCA == nil {
		return nil
	}
	for _, ch := range chains {
		if len(ch) < 2 {
			continue
		}
		if ca := ch[1]; !v.ListedCA(id.Province, ca) {
			return &certError{ErrUnlistedCA, fmt.Sprintf("certificate of %s issued by CA %q (serial %s), which the registry does not list for province %s: it was rotated away or never admitted",
				id, ca.Subject.CommonName, serialString(ca.SerialNumber), id.Province)}
		}
	}
	return nil
}

// build finds the chains from the presented ones to the root and checks
// the identity they certify. What it finds does not change while the roots
// do not, except by time and revocation, which Verify checks on every call;
// so it is remembered per presented chain, and a node pays for path
// building (two signature checks) once per peer certificate instead of once
// per request. A request presents its connection's parsed certificates
// again, found by pointer; a new connection's, by a hash of their bytes.
func (v *Verifier) build(chain []*x509.Certificate, usage x509.ExtKeyUsage, now time.Time) (builtChain, error) {
	pk := presentedKey{chain[0], len(chain), usage}
	v.mu.Lock()
	p, ok := v.presented[pk]
	v.mu.Unlock()
	if ok && slices.Equal(p.chain, chain) && withinValidity(p.built.chains, now) {
		return p.built, nil
	}
	b, err := v.buildByContent(chain, usage, now)
	if err != nil {
		return builtChain{}, err
	}
	v.mu.Lock()
	if len(v.presented) >= maxVerified || v.presented == nil {
		v.presented = make(map[presentedKey]presentedChain)
	}
	v.presented[pk] = presentedChain{slices.Clone(chain), b}
	v.mu.Unlock()
	return b, nil
}

// buildByContent is build for a chain not presented before as these
// certificates: another connection parses the same certificates anew, and
// finds the chains the first one built by a hash of their bytes.
func (v *Verifier) buildByContent(chain []*x509.Certificate, usage x509.ExtKeyUsage, now time.Time) (builtChain, error) {
	h := sha256.New()
	for _, c := range chain {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.Raw))))
		h.Write(c.Raw)
	}
	h.Write([]byte{byte(usage)})
	key := [sha256.Size]byte(h.Sum(nil))
	v.mu.Lock()
	b, ok := v.verified[key]
	v.mu.Unlock()
	if ok && withinValidity(b.chains, now) {
		return b, nil
	}
	leaf := chain[0]
	id, err := IdentityFromCert(leaf)
	if err != nil {
		return builtChain{}, err
	}
	if err := checkLeafProfile(leaf, id); err != nil {
		return builtChain{}, err
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: v.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return builtChain{}, classify(err, leaf, id, usage)
	}
	if v.Domain != "" && id.Domain != v.Domain {
		return builtChain{}, &certError{ErrWrongPeer, fmt.Sprintf("identity %s belongs to federation %s, not %s", id.URI(), id.Domain, v.Domain)}
	}
	if err := checkProvinceChain(chains, id); err != nil {
		return builtChain{}, err
	}
	b = builtChain{id, chains}
	v.mu.Lock()
	if len(v.verified) >= maxVerified || v.verified == nil {
		v.verified = make(map[[sha256.Size]byte]builtChain)
	}
	v.verified[key] = b
	v.mu.Unlock()
	return b, nil
}

// checkLeafProfile refuses a leaf that is not shaped as this package
// issues leaves, whatever signed it: a CA (basicConstraints CA:TRUE, or a
// key usage to sign certificates or CRLs), which CertProvince reads by its
// name constraints and so revocations in the registry, keyed by the
// identity's province, would never name; or a serial that is not positive
// (RFC 5280 4.1.2.2), which no CRL or registry revocation can name either;
// or one that names no extended key usage, which x509 takes as good for
// any use, a server's included; or one of a kind other than node that may
// serve (server auth or any usage), which a client taking any member as
// its server would take. go-spiffe's X509-SVID rules refuse the first two.
func checkLeafProfile(leaf *x509.Certificate, id Identity) error {
	switch {
	case len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0:
		return &certError{ErrWrongUsage, fmt.Sprintf("certificate of %s names no extended key usage; a leaf says which of client and server auth it is for", id)}
	case id.Kind != KindNode && (slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny)):
		return &certError{ErrWrongUsage, fmt.Sprintf("certificate of %s may serve (server auth), but only node certificates serve; a %s certificate is for client auth", id, id.Kind)}
	case leaf.IsCA:
		return &certError{ErrInvalidCertificate, fmt.Sprintf("certificate of %s is a CA (basicConstraints CA:TRUE), not a leaf", id)}
	case leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		return &certError{ErrInvalidCertificate, fmt.Sprintf("certificate of %s may sign certificates or CRLs, which a leaf may not", id)}
	case leaf.SerialNumber == nil || leaf.SerialNumber.Sign() <= 0:
		return &certError{ErrInvalidCertificate, fmt.Sprintf("certificate of %s has serial %v; a serial must be positive, or no revocation can name it", id, leaf.SerialNumber)}
	}
	return nil
}

// withinValidity reports whether every certificate of every chain is valid
// at now. Chains built at another time are used only then: otherwise x509
// builds them again, and may find another path (a renewed root) that is.
func withinValidity(chains [][]*x509.Certificate, now time.Time) bool {
	for _, ch := range chains {
		for _, c := range ch {
			if checkTime(c, now) != nil {
				return false
			}
		}
	}
	return true
}

// checkTime reports an expired or not yet valid certificate, naming it.
func checkTime(c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return &certError{ErrExpired, fmt.Sprintf("certificate expired at %s (serial %s, %s)", c.NotAfter.UTC().Format(time.RFC3339), serialString(c.SerialNumber), describe(c))}
	}
	if now.Before(c.NotBefore) {
		return &certError{ErrNotYetValid, fmt.Sprintf("certificate not yet valid until %s (serial %s, %s)", c.NotBefore.UTC().Format(time.RFC3339), serialString(c.SerialNumber), describe(c))}
	}
	return nil
}

// checkProvinceChain requires the shape root -> province CA -> leaf, with
// the province CA constrained to the leaf's province. Go's verifier has
// already enforced the constraints; this refuses a chain whose
// intermediate carries none (one not made by laborlink pki sign-province).
func checkProvinceChain(chains [][]*x509.Certificate, id Identity) error {
	for _, ch := range chains {
		if len(ch) != 3 {
			continue
		}
		if p, d, err := caProvince(ch[1]); err == nil && p == id.Province && d == id.Domain {
			return nil
		}
	}
	return &certError{ErrNameConstraint, fmt.Sprintf("certificate name not permitted: %s was not issued by a CA constrained to province %s", id.URI(), id.Province)}
}

// classify turns an x509 verification error into one of ours.
func classify(err error, leaf *x509.Certificate, id Identity, usage x509.ExtKeyUsage) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return &certError{ErrUnknownAuthority, fmt.Sprintf("certificate signed by unknown authority: %s (issuer %q) does not chain to the federation root", id, leaf.Issuer.CommonName)}
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.CANotAuthorizedForThisName:
			return &certError{ErrNameConstraint, fmt.Sprintf("certificate name not permitted by its CA: %s (%s)", id.URI(), inv.Detail)}
		case x509.IncompatibleUsage:
			return &certError{ErrWrongUsage, fmt.Sprintf("certificate of %s is not valid for %s", id, usageName(usage))}
		case x509.Expired:
			return &certError{ErrExpired, fmt.Sprintf("certificate expired or not yet valid in the chain of %s: %s", id, inv.Detail)}
		}
	}
	return &certError{ErrInvalidCertificate, fmt.Sprintf("invalid certificate for %s: %v", id, err)}
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "server authentication (only node certificates serve)"
	case x509.ExtKeyUsageClientAuth:
		return "client authentication"
	}
	return "this use"
}

// describe names a certificate in an error: its identity, or its subject.
func describe(c *x509.Certificate) string {
	if id, err := IdentityFromCert(c); err == nil {
		return id.String()
	}
	return fmt.Sprintf("%q", c.Subject.CommonName)
}
