package pki

import (
	"errors"
	"math/big"
)

// Errors that peer verification wraps, so that callers (metrics, audit,
// HTTP status mapping) can tell with errors.Is why a peer was refused. The
// message of the wrapping error says which certificate and when.
var (
	// ErrNoCertificate: the peer presented no certificate.
	ErrNoCertificate = errors.New("no certificate")
	// ErrExpired: a certificate in the chain is past its NotAfter.
	ErrExpired = errors.New("certificate expired")
	// ErrNotYetValid: a certificate in the chain is before its NotBefore.
	ErrNotYetValid = errors.New("certificate not yet valid")
	// ErrUnknownAuthority: the chain does not lead to the federation root.
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
	// ErrNameConstraint: the identity is outside what its CA may issue,
	// e.g. a p44 identity under the p51 CA.
	ErrNameConstraint = errors.New("certificate name not permitted by its CA")
	// ErrRevoked: a certificate in the chain has been revoked.
	ErrRevoked = errors.New("certificate revoked")
	// ErrNotMember: the identity's province is not a member of the
	// federation (never admitted, or removed), though its CA is under the root.
	ErrNotMember = errors.New("province not a member")
	// ErrUnlistedCA: the province CA that issued the certificate is not one
	// the federation lists for the province now (rotated away, or never
	// admitted), though the root signed it.
	ErrUnlistedCA = errors.New("province CA not listed")
	// ErrWrongUsage: the certificate may not be used this way, e.g. an
	// admin (client-only) certificate presented by a server.
	ErrWrongUsage = errors.New("certificate not valid for this use")
	// ErrKindNotAllowed: the peer's kind is not accepted here.
	ErrKindNotAllowed = errors.New("kind not allowed")
	// ErrWrongPeer: the peer is a valid member, but not the one expected
	// (another province, federation or name).
	ErrWrongPeer = errors.New("unexpected peer")
	// ErrInvalidCertificate: any other reason the chain does not verify.
	ErrInvalidCertificate = errors.New("invalid certificate")
)

// certError is a verification failure with a complete message; it unwraps
// to one of the sentinel errors above.
type certError struct {
	kind error
	msg  string
}

func (e *certError) Error() string { return e.msg }
func (e *certError) Unwrap() error { return e.kind }

// serialString renders a serial number the way the CLI prints and accepts
// it: lower-case hex without separators.
func serialString(n *big.Int) string {
	if n == nil {
		return "<none>"
	}
	return n.Text(16)
}
