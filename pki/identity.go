package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind is the role an identity plays; it is the first path segment of the
// identity URI and decides what the certificate may do.
type Kind string

// The kinds of identity a province CA issues.
const (
	// KindNode is a gateway node: it serves the peer and local APIs and calls
	// other nodes. Its certificate is valid for server and client auth.
	KindNode Kind = "node"
	// KindAdmin manages agreements for its province.
	KindAdmin Kind = "admin"
	// KindSystem is a provincial business system that submits and reads
	// records for its province.
	KindSystem Kind = "system"
	// KindAuditor has read-only access to the audit log.
	KindAuditor Kind = "auditor"
	// KindOperator runs node operations.
	KindOperator Kind = "operator"
)

// Kinds lists every kind, in the order documentation shows them.
func Kinds() []Kind {
	return []Kind{KindNode, KindAdmin, KindSystem, KindAuditor, KindOperator}
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindNode, KindAdmin, KindSystem, KindAuditor, KindOperator:
		return true
	}
	return false
}

// ParseKind turns a command-line word into a Kind.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if !k.Valid() {
		return "", fmt.Errorf("unknown kind %q: want one of node, admin, system, auditor, operator", s)
	}
	return k, nil
}

// ErrMalformedIdentity is wrapped by every error about an identity URI or a
// certificate that does not carry exactly one valid identity.
var ErrMalformedIdentity = errors.New("malformed identity")

// Identity is who a certificate speaks for: a named principal of one kind in
// one province of one federation. Its URI form, spiffe://p51.<domain>/<kind>/<name>,
// is the certificate's only URI SAN.
type Identity struct {
	// Domain is the federation domain, e.g. "laborlink.example".
	Domain string
	// Province is the two-digit province code, e.g. "51".
	Province string
	// Kind is the role.
	Kind Kind
	// Name is unique within the province and kind, e.g. "gw-1".
	Name string
}

// URI returns the SPIFFE-style URI of the identity.
func (id Identity) URI() string {
	return "spiffe://" + ProvinceHost(id.Province, id.Domain) + "/" + string(id.Kind) + "/" + id.Name
}

// String is the short form for logs: "p51/node/gw-1".
func (id Identity) String() string {
	return "p" + id.Province + "/" + string(id.Kind) + "/" + id.Name
}

// Validate reports the first field that makes id unusable.
func (id Identity) Validate() error {
	if err := checkDomain(id.Domain); err != nil {
		return err
	}
	if err := checkProvince(id.Province); err != nil {
		return err
	}
	if !id.Kind.Valid() {
		_, err := ParseKind(string(id.Kind))
		return err
	}
	return CheckName(id.Name)
}

var (
	// nameRE is one DNS label in lower case: names become file names and
	// certificate subjects, so they stay plain.
	nameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	labelRE = nameRE
)

// CheckName refuses a name that cannot be the name part of an identity (a
// node's, a client's), so that configs can check one before any certificate
// is issued for it.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid name %q: use 1-63 lower-case letters, digits and inner hyphens, e.g. gw-1", name)
	}
	return nil
}

// checkDomain validates a federation domain: lower-case DNS labels, at least two.
func checkDomain(domain string) error {
	labels := strings.Split(domain, ".")
	if domain == "" || len(domain) > 200 || len(labels) < 2 {
		return fmt.Errorf("invalid federation domain %q: want a lower-case DNS name such as laborlink.example", domain)
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return fmt.Errorf("invalid federation domain %q: label %q is not a lower-case DNS label", domain, l)
		}
	}
	return nil
}

// ParseIdentity parses an identity URI of the form
// spiffe://p<province>.<domain>/<kind>/<name>. It is strict: upper case,
// ports, user info, queries, fragments, extra path segments and unknown
// provinces or kinds are all errors wrapping ErrMalformedIdentity.
func ParseIdentity(uri string) (Identity, error) {
	bad := func(format string, args ...any) (Identity, error) {
		return Identity{}, fmt.Errorf("%w %q: %s", ErrMalformedIdentity, uri, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad("not a URI")
	}
	switch {
	case u.Scheme != "spiffe":
		return bad("scheme must be spiffe")
	case u.Opaque != "" || u.Host == "":
		return bad("missing host")
	case u.User != nil:
		return bad("user info is not allowed")
	case u.Port() != "":
		return bad("a port is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("a query is not allowed")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return bad("a fragment is not allowed")
	case u.RawPath != "":
		return bad("escaped characters are not allowed in the path")
	}
	host, domain, ok := strings.Cut(u.Host, ".")
	if !ok || len(host) != 3 || host[0] != 'p' {
		return bad("host must be p<province>.<federation domain>, e.g. p51.laborlink.example")
	}
	id := Identity{Domain: domain, Province: host[1:]}
	if err := checkProvince(id.Province); err != nil {
		return bad("%v", err)
	}
	if err := checkDomain(domain); err != nil {
		return bad("%v", err)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if !strings.HasPrefix(u.Path, "/") || len(parts) != 2 {
		return bad("path must be /<kind>/<name>")
	}
	id.Kind = Kind(parts[0])
	if !id.Kind.Valid() {
		return bad("unknown kind %q", parts[0])
	}
	id.Name = parts[1]
	if err := CheckName(id.Name); err != nil {
		return bad("%v", err)
	}
	if id.URI() != uri {
		return bad("not in canonical form %q", id.URI())
	}
	return id, nil
}

// IdentityFromCert extracts the identity of a certificate. Like an X.509
// SVID, the certificate must carry exactly one URI SAN, and it must be a
// valid identity URI. It does not verify the certificate: use a Verifier.
func IdentityFromCert(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrMalformedIdentity)
	}
	r := certIdentities.Get(cert, identityOf)
	return r.id, r.err
}

// certIdentities remembers the identities of certificates read before:
// every request on a connection presents the same parsed certificate, and
// reading its URI again cost a URL parse per request.
var certIdentities CertMemo[identityResult]

// identityResult is what reading a certificate's identity found.
type identityResult struct {
	id  Identity
	err error
}

func identityOf(cert *x509.Certificate) identityResult {
	if len(cert.URIs) != 1 {
		return identityResult{err: fmt.Errorf("%w: certificate %q has %d URI SANs, want exactly one spiffe:// identity", ErrMalformedIdentity, cert.Subject.CommonName, len(cert.URIs))}
	}
	id, err := ParseIdentity(cert.URIs[0].String())
	if err == nil {
		err = checkRawURI(cert, id)
	}
	return identityResult{id, err}
}

// oidSubjectAltName is the subjectAltName extension's OID.
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// checkRawURI requires the URI SAN's bytes in cert to be id's canonical
// form exactly. Go parses the SAN into a url.URL whose String drops what
// parses to nothing, an empty fragment ("...#") or query ("...?"), so
// ParseIdentity alone would read a certificate OpenSSL and other tools
// show another name for as a canonical identity.
func checkRawURI(cert *x509.Certificate, id Identity) error {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			return fmt.Errorf("%w: certificate %q has a subjectAltName that does not parse", ErrMalformedIdentity, cert.Subject.CommonName)
		}
		for _, n := range names {
			const uriTag = 6
			if n.Class == asn1.ClassContextSpecific && n.Tag == uriTag && string(n.Bytes) != id.URI() {
				return fmt.Errorf("%w: certificate %q has a URI SAN that is not exactly the canonical form %s", ErrMalformedIdentity, cert.Subject.CommonName, id.URI())
			}
		}
	}
	return nil
}

// PeerIdentity returns the identity of the peer of a TLS connection whose
// configuration came from this package (so the chain has been verified).
func PeerIdentity(cs tls.ConnectionState) (Identity, error) {
	if len(cs.PeerCertificates) == 0 {
		return Identity{}, fmt.Errorf("%w: peer presented no certificate", ErrMalformedIdentity)
	}
	return IdentityFromCert(cs.PeerCertificates[0])
}
