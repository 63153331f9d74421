package contracts

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unsafe"

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
// AppendJSON writes the bytes json.Marshal writes for it, more cheaply;
// DecodeReceipt reads them back.
type Receipt struct {
	EnvelopeID string `json:"envelope_id"`
	// EnvelopeDigest is "sha256:<hex>" of the envelope's signing digest
	// (Envelope.SigningDigest, what its origin signed), which covers every
	// header member as well as the payload digest: it binds the receipt to
	// the whole envelope, so that it cannot be paired with another envelope
	// of the same id and payload (another agreement version or purpose,
	// say). Empty in a receipt from a destination of a release before it,
	// or for an origin that did not ask for it (see NewBoundReceipt);
	// such a receipt binds the id and the payload digest only.
	EnvelopeDigest string `json:"envelope_digest,omitempty"`
	// PayloadDigest repeats the envelope's, so the receipt proves what arrived.
	PayloadDigest string        `json:"payload_digest"`
	Receiver      string        `json:"receiver"` // identity URI of the receiving node
	Status        ReceiptStatus `json:"status"`
	// Reason explains a rejection; it never contains personal data.
	Reason     string    `json:"reason,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Signature signs the receipt alone; a receipt signed with the other
	// receipts of one answer has Batch instead (see SignReceipts).
	Signature []byte      `json:"signature,omitempty"`
	Batch     *BatchProof `json:"batch,omitempty"`
}

// NewReceipt answers an envelope with a status, at now (UTC, millisecond
// precision), binding its id and payload digest only, as destinations of
// releases before EnvelopeDigest did: the receipt for an origin that does
// not read that member. Sign it before sending.
func NewReceipt(e *Envelope, status ReceiptStatus, reason string, now time.Time) *Receipt {
	r := receiptOf(e, status, reason, now)
	return &r
}

// receiptOf is the receipt NewReceipt returns, as a value, which
// NewBoundReceipt allocates with the text of its envelope digest.
func receiptOf(e *Envelope, status ReceiptStatus, reason string, now time.Time) Receipt {
	return Receipt{
		EnvelopeID:    e.ID,
		PayloadDigest: e.PayloadDigest,
		Status:        status,
		Reason:        reason,
		ReceivedAt:    now.UTC().Truncate(time.Millisecond),
	}
}

// NewBoundReceipt is NewReceipt binding the receipt to the whole envelope
// (EnvelopeDigest): d is the envelope's signing digest, which the
// destination computed to verify its signature or batch proof
// (Envelope.VerifyAndDigest), so it is not hashed again here.
func NewBoundReceipt(e *Envelope, d [32]byte, status ReceiptStatus, reason string, now time.Time) *Receipt {
	// The digest's text is allocated with the receipt, not apart: a
	// destination makes one receipt per record it is sent.
	b := &boundReceipt{Receipt: receiptOf(e, status, reason, now)}
	appendDigestText(b.text[:0], d)
	// b.text is written once, here, and never again: the string may
	// share it.
	b.EnvelopeDigest = unsafe.String(&b.text[0], len(b.text))
	return &b.Receipt
}

// boundReceipt is a receipt and the text of its EnvelopeDigest, allocated
// together (NewBoundReceipt).
type boundReceipt struct {
	Receipt
	text [digestTextLen]byte
}

// MatchesDigest reports whether the receipt answers the envelope whose
// signing digest is d, as far as the receipt says: it does when it binds
// d (EnvelopeDigest), and when it binds no envelope digest at all (a
// receipt from a destination of an earlier release, or one asked by an
// origin of an earlier release). It does not allocate.
func (r *Receipt) MatchesDigest(d [32]byte) bool {
	if r.EnvelopeDigest == "" {
		return true
	}
	var text [digestTextLen]byte
	return string(appendDigestText(text[:0], d)) == r.EnvelopeDigest
}

// SigningDigest is the SHA-256 of the receipt's canonical encoding without
// Signature and Batch. The members are written in canonical order by hand; a
// test holds it equal to Digest of the receipt without them.
func (r *Receipt) SigningDigest() ([32]byte, error) {
	// Room on the stack for a receipt without a long reason: every receipt
	// an origin reads is hashed here.
	var room [448]byte
	b := append(room[:0], '{')
	// Written only when set: a receipt without it (an earlier release's)
	// keeps the digest it was signed with.
	if r.EnvelopeDigest != "" {
		b = append(b, `"envelope_digest":`...)
		b = appendCanonicalString(b, r.EnvelopeDigest)
		b = append(b, ',')
	}
	b = append(b, `"envelope_id":`...)
	b = appendCanonicalString(b, r.EnvelopeID)
	b = append(b, `,"payload_digest":`...)
	b = appendCanonicalString(b, r.PayloadDigest)
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendCanonicalString(b, r.Reason)
	}
	b = append(b, `,"received_at":`...)
	b, err := appendJSONTime(b, r.ReceivedAt)
	if err != nil {
		return [32]byte{}, fmt.Errorf("receipt for %s: received_at: %w", r.EnvelopeID, err)
	}
	b = append(b, `,"receiver":`...)
	b = appendCanonicalString(b, r.Receiver)
	b = append(b, `,"status":`...)
	b = appendCanonicalString(b, string(r.Status))
	b = append(b, '}')
	return sha256.Sum256(b), nil
}

// prepare sets Receiver, clears any signature and returns the digest to sign.
func (r *Receipt) prepare(receiverURI string) ([32]byte, error) {
	if receiverURI == "" {
		return [32]byte{}, errors.New("receipt: sign: no receiver URI")
	}
	switch r.Status {
	case ReceiptStored, ReceiptDuplicate, ReceiptRejected:
	default:
		return [32]byte{}, fmt.Errorf("receipt for %s: status %q is not stored, duplicate or rejected", r.EnvelopeID, r.Status)
	}
	r.Receiver, r.Signature, r.Batch = receiverURI, nil, nil
	return r.SigningDigest()
}

// Sign sets Receiver and signs the receipt alone, as Envelope.Sign does.
func (r *Receipt) Sign(signer crypto.Signer, receiverURI string) error {
	d, err := r.prepare(receiverURI)
	if err != nil {
		return err
	}
	if r.Signature, err = SignDigest(signer, d); err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	return nil
}

// SignReceipts sets every receipt's Receiver and signs them together: one
// signature over the Merkle root of their signing digests, and each receipt
// its BatchProof, so that each stays verifiable on its own. A destination
// answering a delivered batch signs its receipts this way.
func SignReceipts(rs []*Receipt, signer crypto.Signer, receiverURI string) error {
	ds := make([][32]byte, len(rs))
	for i, r := range rs {
		d, err := r.prepare(receiverURI)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	proofs, err := SignDigests(ds, signer)
	if err != nil {
		return fmt.Errorf("receipts: %w", err)
	}
	for i, r := range rs {
		r.Batch = proofs[i]
	}
	return nil
}

// Verify checks the receipt's signature under pub: alone, or its place in a
// batch and the batch root's signature. The caller checks that pub belongs
// to Receiver and that the receipt answers the envelope it sent (Matches).
func (r *Receipt) Verify(pub crypto.PublicKey) error {
	return r.VerifyWith(NewRootVerifier(pub))
}

// VerifyWith is Verify with the batch roots' signatures checked by roots, so
// that the receipts of one answer cost one signature check together.
func (r *Receipt) VerifyWith(roots *RootVerifier) error {
	d, err := r.SigningDigest()
	if err != nil {
		return err
	}
	return r.verifyDigest(d, roots)
}

// verifyDigest is VerifyWith with the receipt's signing digest d.
func (r *Receipt) verifyDigest(d [32]byte, roots *RootVerifier) (err error) {
	if r.Batch != nil && len(r.Signature) == 0 {
		err = r.Batch.verifyWith(d, roots)
	} else {
		err = VerifyDigest(roots.Pub(), d, r.Signature)
	}
	if err != nil {
		return fmt.Errorf("receipt for %s: %w", r.EnvelopeID, err)
	}
	return nil
}

// Matches reports whether the receipt answers exactly this envelope: its
// id and payload digest and, when the receipt binds the whole envelope
// (EnvelopeDigest), its signing digest, and so every header member. A
// receipt without EnvelopeDigest (see there) is held to the id and the
// payload digest alone. Where the envelope's signing digest is at hand,
// MatchesDigest checks it without hashing the envelope again.
func (r *Receipt) Matches(e *Envelope) bool {
	if r.EnvelopeID != e.ID || r.PayloadDigest != e.PayloadDigest {
		return false
	}
	if r.EnvelopeDigest == "" {
		return true
	}
	d, err := e.SigningDigest()
	return err == nil && r.MatchesDigest(d)
}

// DecodeReceipt decodes a receipt strictly (unknown members and trailing
// data are errors) and checks its form; verify it next. It means what
// encoding/json with DisallowUnknownFields means for a Receipt (see
// decodeenvelope.go).
func DecodeReceipt(data []byte) (*Receipt, error) {
	if len(data) > MaxRecordSize {
		return nil, &DecodeError{Offset: -1, Message: fmt.Sprintf("receipt has %d bytes, more than the limit of %d", len(data), MaxRecordSize)}
	}
	r := new(Receipt)
	l := &lexer{data: data, maxNest: maxJSONNesting}
	if !l.receipt(r) || !l.end() {
		return nil, l.err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// Check verifies a receipt's form: an envelope ULID, a digest (and an
// envelope digest, if any), a receiver and a known status.
func (r *Receipt) Check() error {
	if _, err := ulid.ParseStrict(r.EnvelopeID); err != nil {
		return fmt.Errorf("receipt: envelope_id %q is not a ULID", r.EnvelopeID)
	}
	if len(r.PayloadDigest) != 71 || r.PayloadDigest[:7] != "sha256:" {
		return fmt.Errorf("receipt for %s: payload_digest %q is not sha256:<hex>", r.EnvelopeID, r.PayloadDigest)
	}
	if d := r.EnvelopeDigest; d != "" && !isDigestText(d) {
		return fmt.Errorf("receipt for %s: envelope_digest %q is not sha256:<64 lowercase hex digits>", r.EnvelopeID, d)
	}
	switch r.Status {
	case ReceiptStored, ReceiptDuplicate, ReceiptRejected:
	default:
		return fmt.Errorf("receipt for %s: status %q is not stored, duplicate or rejected", r.EnvelopeID, r.Status)
	}
	if r.Receiver == "" || r.ReceivedAt.IsZero() {
		return fmt.Errorf("receipt for %s: receiver and received_at are required", r.EnvelopeID)
	}
	if len(r.Signature) > 0 && r.Batch != nil {
		// Verify would check the signature alone, leaving the proof kept
		// with the receipt unauthenticated.
		return fmt.Errorf("receipt for %s: has both a signature and a batch proof", r.EnvelopeID)
	}
	return nil
}
