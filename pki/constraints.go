package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net"
	"slices"
	"strings"
)

// oidNameConstraints is id-ce-nameConstraints (RFC 5280, 4.2.1.10).
var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

// generalSubtree is GeneralSubtree with the defaults (minimum 0, no maximum)
// left out, as RFC 5280 requires.
type generalSubtree struct {
	Base asn1.RawValue
}

// nameConstraints is the NameConstraints extension value; only permitted
// subtrees are used.
type nameConstraints struct {
	Permitted []generalSubtree `asn1:"optional,tag:0"`
}

// GeneralName tags (RFC 5280, 4.2.1.6).
const (
	tagDNSName = 2
	tagURI     = 6
	tagIP      = 7
)

// provinceConstraints encodes the name constraints of a province CA: URIs
// only with host p<province>.<domain>, DNS names only in that subtree, and,
// if ipNets is not empty, IP addresses only in those ranges. With no IP
// ranges, IP SANs are unconstrained (RFC 5280 constrains only the name forms
// that appear): identities are never taken from IP addresses, see
// docs/pki.md.
func provinceConstraints(province, domain string, ipNets []*net.IPNet) ([]byte, error) {
	host := ProvinceHost(province, domain)
	nc := nameConstraints{Permitted: []generalSubtree{
		{Base: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagURI, Bytes: []byte(host)}},
		{Base: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDNSName, Bytes: []byte(host)}},
	}}
	for _, n := range ipNets {
		ip, mask := n.IP.To4(), n.Mask
		if ip == nil {
			ip = n.IP.To16()
		}
		if len(mask) != len(ip) {
			return nil, fmt.Errorf("IP range %s: mask length does not match the address family", n)
		}
		value := append(slices.Clone([]byte(ip.Mask(mask))), mask...)
		nc.Permitted = append(nc.Permitted, generalSubtree{
			Base: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIP, Bytes: value},
		})
	}
	return asn1.Marshal(nc)
}

// CertProvince is the province a certificate belongs to: its identity's
// province for a leaf, the province it is constrained to for a province CA,
// and "" for anything else (the federation root).
func CertProvince(cert *x509.Certificate) string {
	if cert.IsCA {
		p, _, err := caProvince(cert)
		if err != nil {
			return ""
		}
		return p
	}
	id, err := IdentityFromCert(cert)
	if err != nil {
		return ""
	}
	return id.Province
}

// caProvince reads the province and federation domain a province CA is
// constrained to. A CA without exactly one permitted URI host of the form
// p<province>.<domain> is not a LaborLink province CA.
func caProvince(ca *x509.Certificate) (province, domain string, err error) {
	if !ca.IsCA {
		return "", "", fmt.Errorf("certificate %q is not a CA", ca.Subject.CommonName)
	}
	if len(ca.PermittedURIDomains) != 1 {
		return "", "", fmt.Errorf("CA %q is not constrained to one province (permitted URI hosts %v)", ca.Subject.CommonName, ca.PermittedURIDomains)
	}
	host := ca.PermittedURIDomains[0]
	p, d, ok := strings.Cut(host, ".")
	if !ok || len(p) != 3 || p[0] != 'p' || !ValidProvince(p[1:]) || checkDomain(d) != nil {
		return "", "", fmt.Errorf("CA %q is constrained to %q, which is not p<province>.<domain>", ca.Subject.CommonName, host)
	}
	if !slices.Equal(ca.PermittedDNSDomains, []string{host}) {
		return "", "", fmt.Errorf("CA %q permits DNS names %v, want exactly %s", ca.Subject.CommonName, ca.PermittedDNSDomains, host)
	}
	return p[1:], d, nil
}

// dnsWithin reports whether name is host or below it, the way the province
// CA's DNS constraint matches.
func dnsWithin(name, host string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return name == host || strings.HasSuffix(name, "."+host)
}
