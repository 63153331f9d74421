package contracts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
)

// The signing scheme for envelopes, receipts and batches: what is signed is
// always a 32-byte SHA-256 digest D of a canonical (RFC 8785) encoding, or of
// a Merkle root for batches.
//
//   - ECDSA keys sign D as a SHA-256 digest (ASN.1 DER signature), as
//     crypto.Signer does for ECDSA.
//   - Ed25519 keys cannot sign a pre-hashed digest in pure Ed25519; they sign
//     the 32 bytes of D as the message (crypto.Hash(0)). Verifiers do the same.
//   - RSA keys sign D with PKCS #1 v1.5 and SHA-256.
//
// Any other key type is an error, never a silently weaker check.

// ErrSignature reports a signature that does not verify.
var ErrSignature = errors.New("signature does not verify")

// SignDigest signs a digest under the scheme above, with keys held by any
// crypto.Signer (in memory, PKCS #11 or KMS).
func SignDigest(signer crypto.Signer, d [32]byte) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("sign: no signer")
	}
	var opts crypto.SignerOpts
	switch signer.Public().(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		opts = crypto.SHA256
	case ed25519.PublicKey:
		opts = crypto.Hash(0)
	default:
		return nil, fmt.Errorf("sign: unsupported key type %T", signer.Public())
	}
	sig, err := signer.Sign(rand.Reader, d[:], opts)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// VerifyDigest checks a signature made by SignDigest; it returns an error
// wrapping ErrSignature when the signature does not match.
func VerifyDigest(pub crypto.PublicKey, d [32]byte, sig []byte) error {
	if len(sig) == 0 {
		return fmt.Errorf("%w: no signature", ErrSignature)
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		ok = len(k) == ed25519.PublicKeySize && ed25519.Verify(k, d[:], sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	default:
		return fmt.Errorf("verify: unsupported key type %T", pub)
	}
	if !ok {
		return ErrSignature
	}
	return nil
}

// FormatDigest writes a digest as "sha256:<hex>", the form envelopes,
// receipts and audit entries carry.
func FormatDigest(d [32]byte) string {
	var text [digestTextLen]byte
	return string(appendDigestText(text[:0], d))
}

// digestTextLen is the length of a digest's text, "sha256:" and 64 hex
// digits.
const digestTextLen = len("sha256:") + 64

// appendDigestText appends d as FormatDigest writes it.
func appendDigestText(b []byte, d [32]byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, "sha256:"...)
	for _, c := range d {
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

// isDigestText reports whether s is a digest as FormatDigest writes it.
func isDigestText(s string) bool {
	if len(s) != digestTextLen || s[:7] != "sha256:" {
		return false
	}
	for i := 7; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// PayloadDigest is the digest of canonical payload bytes, as FormatDigest
// writes it.
func PayloadDigest(canonical []byte) string { return FormatDigest(sha256.Sum256(canonical)) }
