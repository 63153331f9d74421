// Package pki is the federation PKI of LaborLink, built on cloudflare/cfssl:
// a federation root CA, one intermediate CA per province constrained by
// X.509 name constraints to that province's names, leaf certificates for
// nodes and people, revocation with signed CRLs, and the mutual-TLS and
// signature verification the rest of the system relies on. No package
// outside pki imports cfssl.
//
// # Identities
//
// Every leaf carries exactly one URI SAN,
//
//	spiffe://p<province>.<federation-domain>/<kind>/<name>
//
// e.g. spiffe://p51.laborlink.example/node/gw-1 (Sichuan, node gw-1). See
// Identity, ParseIdentity, IdentityFromCert and PeerIdentity. A province CA
// permits only URIs with host p<province>.<domain> and DNS names within that
// subtree, so a p51 CA cannot issue a p44 identity that verifies: Go's and
// OpenSSL's verifiers both enforce it.
//
// # On disk
//
// Root directory (offline machine):
//
//	root.pem        federation root certificate (public; every party gets a copy)
//	root-key.pem    root key, mode 0600
//	state.json      province CAs issued and revoked
//	crl.pem         CRL of revoked province CAs
//
// Province CA directory:
//
//	ca-key.pem      province CA key, mode 0600; never leaves the province
//	ca.csr          request sent to the root operator
//	ca.pem          province CA certificate, signed by the root
//	root.pem        copy of the federation root
//	state.json      certificates issued and revoked
//	crl.pem         CRL of revoked leaves
//	<kind>-<name>.pem      leaf certificate followed by ca.pem
//	<kind>-<name>-key.pem  leaf key, mode 0600
//
// Keys and certificates are never overwritten without Force; state.json and
// crl.pem are the CA's own records and are updated in place, atomically.
// Every operation computes all its outputs before writing any, so a bad
// input writes nothing.
//
// # Keys
//
// All keys are ECDSA P-256 with ECDSA-SHA256 signatures. It is cfssl's
// default, every TLS 1.3 implementation must support it (RFC 8446 9.1),
// OpenSSL and Go's constant-time implementation handle it, keys are
// generated in microseconds, and signatures are small. RSA is slower and
// larger for no gain here; Ed25519 certificates are still refused by some
// TLS clients and HSMs; SM2 (GB/T 32918) is supported neither by Go's
// standard library nor by cfssl. docs/pki.md says more.
package pki

import cflog "github.com/cloudflare/cfssl/log"

// cfssl logs every key generation and signature at info level on stderr,
// which would interleave with the CLI's own output and with the node's
// structured logs. Everything it reports there comes back to us as an error
// or a result, so only its critical messages are kept.
func init() { cflog.Level = cflog.LevelCritical }
