package contracts

// HeaderDigest is the SHA-256 of the canonical encoding of the envelope
// without its payload (null), signer, signature and batch proof: what
// sealing it again leaves as it was, its payload standing in by
// PayloadDigest, which a checked envelope's payload matches. A destination
// keeps it to tell a redelivery, perhaps sealed again under its origin
// node's new name, from another envelope under the same id, without
// keeping the envelope or hashing its payload again.
func (e *Envelope) HeaderDigest() ([32]byte, error) {
	h := *e
	h.Signer = ""
	return h.signingDigest([]byte("null"))
}
