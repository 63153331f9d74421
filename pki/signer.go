package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
)

// Signer signs with a certificate's private key and carries the chain that
// proves who signed, so that a receiver can call VerifySignature. The
// convention, shared with contracts, is an ECDSA signature in ASN.1 DER
// over a SHA-256 digest.
//
// Signer implements crypto.Signer and is safe for concurrent use.
type Signer struct {
	key   crypto.Signer
	chain []*x509.Certificate
	id    Identity
}

var _ crypto.Signer = (*Signer)(nil)

// NewSigner pairs key with chain (leaf first) after checking that the key
// is the leaf's and that the leaf carries an identity.
func NewSigner(key crypto.Signer, chain []*x509.Certificate) (*Signer, error) {
	if key == nil || len(chain) == 0 {
		return nil, errors.New("pki: signer needs a key and a certificate chain")
	}
	if !keyMatches(key, chain[0]) {
		return nil, errors.New("pki: signer key does not match the certificate")
	}
	id, err := IdentityFromCert(chain[0])
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, chain: chain, id: id}, nil
}

// LoadSigner reads a leaf certificate file (leaf then chain) and its key.
func LoadSigner(certFile, keyFile string) (*Signer, error) {
	chain, err := ReadCertificates(certFile)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	return NewSigner(key, chain)
}

func signerFromTLS(cert *tls.Certificate) (*Signer, error) {
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: certificate key cannot sign")
	}
	chain := make([]*x509.Certificate, 0, len(cert.Certificate))
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	return NewSigner(key, chain)
}

// Public returns the public key of the leaf.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign signs digest with the private key (crypto.Signer). For the
// federation convention pass a SHA-256 digest and crypto.SHA256.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}

// SignMessage hashes msg with SHA-256 and signs the digest.
func (s *Signer) SignMessage(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return s.key.Sign(nil, d[:], crypto.SHA256)
}

// Chain returns the certificate chain, leaf first; callers must not modify it.
func (s *Signer) Chain() []*x509.Certificate { return s.chain }

// Identity returns the signer's identity.
func (s *Signer) Identity() Identity { return s.id }

// ErrBadSignature is wrapped when a chain verifies but the signature does not.
var ErrBadSignature = errors.New("signature does not verify")

// VerifySignature verifies chain (leaf first) against roots, with name
// constraints and at the current time, then checks sig, an ECDSA ASN.1
// signature over the SHA-256 digest, with the leaf's key. It returns the
// signer's identity; the caller checks that identity's province and kind
// against what the signed data claims.
func VerifySignature(chain []*x509.Certificate, roots *x509.CertPool, digest, sig []byte) (Identity, error) {
	return (&Verifier{Roots: roots}).VerifySignature(chain, digest, sig)
}

// VerifySignature is VerifySignature with this Verifier's clock, domain and
// revocation checks. Set Now to the signed record's time for deterministic
// replay.
func (v *Verifier) VerifySignature(chain []*x509.Certificate, digest, sig []byte) (Identity, error) {
	if len(digest) != sha256.Size {
		return Identity{}, fmt.Errorf("digest is %d bytes, want a SHA-256 digest (%d)", len(digest), sha256.Size)
	}
	id, err := v.Verify(chain, x509.ExtKeyUsageAny)
	if err != nil {
		return Identity{}, err
	}
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s has a %T key, want ECDSA", ErrBadSignature, id, chain[0].PublicKey)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return Identity{}, fmt.Errorf("%w: not signed by %s", ErrBadSignature, id)
	}
	return id, nil
}
