package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// TLS builds the mutual-TLS configurations of one node or client: TLS 1.3
// only, a certificate on both sides, and the peer verified by a Verifier
// (federation root, name constraints, validity, revocation) and a
// PeerPolicy (kinds, province). Peers are authenticated by identity, not by
// host name, so nodes may be addressed by IP.
//
// Go's built-in check (ClientAuth RequireAndVerifyClientCert, or a client
// without InsecureSkipVerify) is replaced by VerifyConnection, as
// go-spiffe does, because the built-in check runs first and cannot say
// which of our rules failed, nor check revocation. VerifyConnection runs on
// every handshake including resumed ones, so the checks are never skipped.
type TLS struct {
	// KeyPair is this side's certificate, reloaded on rotation. Required.
	KeyPair *KeyPair
	// Verifier checks the peer's chain. Required.
	Verifier *Verifier
}

func (t *TLS) validate() error {
	if t.KeyPair == nil {
		return errors.New("pki.TLS: no KeyPair")
	}
	if t.Verifier == nil || t.Verifier.Roots == nil {
		return errors.New("pki.TLS: no Verifier with a root pool")
	}
	return nil
}

// ServerConfig returns a server configuration that requires a client
// certificate and accepts only peers that verify and satisfy policy.
// Handlers read the peer with PeerIdentity(*r.TLS).
func (t *TLS) ServerConfig(policy PeerPolicy) (*tls.Config, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		ClientAuth:       tls.RequireAnyClientCert, // verified in VerifyConnection
		GetCertificate:   t.KeyPair.GetCertificate,
		VerifyConnection: t.verifyConnection(x509.ExtKeyUsageClientAuth, policy),
	}, nil
}

// ClientConfig returns a client configuration that presents this side's
// certificate and accepts only a server that verifies, holds a node
// certificate (server auth) and satisfies policy, typically
// PeerPolicy{Kinds: []Kind{KindNode}, Province: "44"}.
func (t *TLS) ClientConfig(policy PeerPolicy) (*tls.Config, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		InsecureSkipVerify:   true, // host names are not identities here; verified in VerifyConnection
		GetClientCertificate: t.KeyPair.GetClientCertificate,
		VerifyConnection:     t.verifyConnection(x509.ExtKeyUsageServerAuth, policy),
	}, nil
}

func (t *TLS) verifyConnection(usage x509.ExtKeyUsage, policy PeerPolicy) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		id, err := t.Verifier.Verify(cs.PeerCertificates, usage)
		if err != nil {
			return err
		}
		return policy.Check(id)
	}
}
