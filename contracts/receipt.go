package contracts

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
)

// ReceiptStatus is what the destination did with an envelope.
type ReceiptStatus string

// The receipt statuses.
const (
	// ReceiptStored: verified, allowed by import policy, durably stored.
	ReceiptStored ReceiptStatus = "stored"
	// ReceiptDuplicate: the envelope ID was stored before; nothing changed.
	ReceiptDuplicate ReceiptStatus = "duplicate"
	// ReceiptRejected: not stored, for the Reason given; redelivery will not help.
	ReceiptRejected ReceiptStatus = "rejected"
)

// Receipt is the destination's signed answer to an envelope. The origin keeps
// it as proof of delivery, and auditors match it against both audit logs.
type Receipt struct {
	EnvelopeID string `json:"envelope_id"`
	// PayloadDigest repeats the envelope's, so the receipt proves what arrived.
	PayloadDigest string        `json:"payload_digest"`
	Receiver      string        `json:"receiver"` // identity URI of the receiving node
	Status        ReceiptStatus `json:"status"`
	// Reason explains a rejection; it never contains personal data.
	Reason     string    `json:"reason,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	Signature  []byte    `json:"signature,omitempty"`
}

// NewReceipt answers an envelope with a status, at now (UTC, millisecond
// precision). Sign it before sending.
func NewReceipt(e *Envelope, status ReceiptStatus, reason string, now time.Time) *Receipt {
	return &Receipt{
		EnvelopeID:    e.ID,
		PayloadDigest: e.PayloadDigest,
		Status:        status,
		Reason:        reason,
		ReceivedAt:    now.UTC().Truncate(time.Millisecond),
	}
}

// SigningDigest is the SHA-256 of the receipt's canonical encoding without
// its Signature.
func (r *Receipt) SigningDigest() ([32]byte, error) {
	unsigned := *r
	unsigned.Signature = nil
	return Digest(&unsigned)
}

// Sign sets Receiver and signs the receipt, as Envelope.Sign does.
func (r *Receipt) Sign(signer crypto.Signer, receiverURI string) error {
	if receiverURI == "" {
		return errors.New("receipt: sign: no receiver URI")
	}
	switch r.Status {
	case ReceiptStored, ReceiptDuplicate, ReceiptRejected:
	default:
		return fmt.Errorf("receipt for %s: status %q is not stored, duplicate or rejected", r.EnvelopeID, r.Status)
	}
	r.Receiver = receiverURI
	r.Signature = nil
	d, err := r.SigningDigest()
	if err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	if r.Signature, err = SignDigest(signer, d); err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	return nil
}

// Verify checks the receipt's signature under pub. The caller checks that pub
// belongs to Receiver and that the receipt answers the envelope it sent
// (Matches).
func (r *Receipt) Verify(pub crypto.PublicKey) error {
	d, err := r.SigningDigest()
	if err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	if err := VerifyDigest(pub, d, r.Signature); err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	return nil
}

// Matches reports whether the receipt answers exactly this envelope.
func (r *Receipt) Matches(e *Envelope) bool {
	return r.EnvelopeID == e.ID && r.PayloadDigest == e.PayloadDigest
}

// DecodeReceipt decodes a receipt strictly and checks its form; verify it next.
func DecodeReceipt(data []byte) (*Receipt, error) {
	if len(data) > MaxRecordSize {
		return nil, &DecodeError{Offset: -1, Message: fmt.Sprintf("receipt has %d bytes, more than the limit of %d", len(data), MaxRecordSize)}
	}
	r := new(Receipt)
	if err := decodeStrictPlain(data, r); err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// Check verifies a receipt's form: an envelope ULID, a digest, a receiver
// and a known status.
func (r *Receipt) Check() error {
	if _, err := ulid.ParseStrict(r.EnvelopeID); err != nil {
		return fmt.Errorf("receipt: envelope_id %q is not a ULID", r.EnvelopeID)
	}
	if len(r.PayloadDigest) != 71 || r.PayloadDigest[:7] != "sha256:" {
		return fmt.Errorf("receipt for %s: payload_digest %q is not sha256:<hex>", r.EnvelopeID, r.PayloadDigest)
	}
	switch r.Status {
	case ReceiptStored, ReceiptDuplicate, ReceiptRejected:
	default:
		return fmt.Errorf("receipt for %s: status %q is not stored, duplicate or rejected", r.EnvelopeID, r.Status)
	}
	if r.Receiver == "" || r.ReceivedAt.IsZero() {
		return fmt.Errorf("receipt for %s: receiver and received_at are required", r.EnvelopeID)
	}
	return nil
}
