package contracts

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// Envelope carries one record from an origin node to a destination node. The
// origin signs it; the destination verifies the signature, the payload digest
// and that the envelope's header matches the record inside.
//
// The envelope ID is a ULID: unique without coordination, sortable by creation
// time, and the key that makes redelivery idempotent at the destination.
//
// AppendJSON writes the bytes json.Marshal writes for an envelope, at a
// fraction of the cost; DecodeEnvelope reads them back.
type Envelope struct {
	// ID is a ULID in its 26-character text form.
	ID string `json:"id"`
	// Type and Schema are the payload's record type and schema name.
	Type   RecordType `json:"type"`
	Schema string     `json:"schema"`
	// Origin and Destination are the 2-digit sending and receiving provinces.
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
	// AgreementID and AgreementVersion name the agreement version the export
	// decision used; the destination decides on the same version.
	AgreementID      string  `json:"agreement_id"`
	AgreementVersion int     `json:"agreement_version"`
	Purpose          Purpose `json:"purpose"`
	// Created is when the origin sealed the envelope: UTC, millisecond precision.
	Created time.Time `json:"created"`
	// Payload is the record's canonical (RFC 8785) JSON, after the export
	// policy's obligations were applied.
	Payload json.RawMessage `json:"payload"`
	// PayloadDigest is "sha256:<hex>" of Payload.
	PayloadDigest string `json:"payload_digest"`
	// Signer is the identity URI of the signing node, such as
	// "spiffe://p51.laborlink.example/node/gw-1".
	Signer string `json:"signer,omitempty"`
	// Signature is the signer's signature over SigningDigest; empty when the
	// envelope was signed as part of a batch.
	Signature []byte `json:"signature,omitempty"`
	// Batch proves the envelope's place in a batch whose Merkle root was
	// signed once; nil when the envelope is signed alone.
	Batch *BatchProof `json:"batch,omitempty"`

	// known remembers the Payload slice known to be canonical.
	known payloadMark
}

// payloadMark remembers a payload slice known to be canonical, so that
// signing, verifying and encoding an envelope need not canonicalize or
// re-scan its payload again. It keeps the slice itself rather than a flag:
// once Payload is any other slice (another array, start or length) the mark
// no longer applies, without anyone having to clear it; and keeping the slice
// keeps its array alive, so no later payload can be allocated at its address.
type payloadMark struct {
	payload []byte
	// checked says that this package canonicalized payload itself
	// (NewEnvelope, DecodeEnvelope) rather than SetPayload's caller saying
	// it is canonical; sum is then its SHA-256.
	checked bool
	sum     [32]byte
}

// holds reports whether p is the very slice marked: the same array, start
// and length.
func (m *payloadMark) holds(p []byte) bool {
	return len(p) > 0 && len(p) == len(m.payload) && &p[0] == &m.payload[0]
}

// NewEnvelope seals a record for sending: a fresh ULID, the header copied from
// the record, the canonical payload and its digest. It does not validate the
// record: the payload is what remains after policy obligations, and a masked
// ID number is no longer a valid one. Validate before applying obligations.
func NewEnvelope(rec Record, agreementVersion int, now time.Time) (*Envelope, error) {
	return NewEnvelopeEdited(rec, agreementVersion, now, nil)
}

// NewEnvelopeEdited is NewEnvelope whose payload is the record's canonical
// form edited by edit (the export obligations) when edit is not nil: the
// payload is written once, with edit's edits carried out as the record is
// encoded (or, where the encoder cannot, encoded and then edited), and
// hashed once, where NewEnvelope and then SetPayload of the edited payload
// would copy and hash it twice.
func NewEnvelopeEdited(rec Record, agreementVersion int, now time.Time, edit PayloadEditor) (*Envelope, error) {
	if rec == nil {
		return nil, errors.New("envelope: no record")
	}
	h := rec.Head()
	if want := SchemaFor(rec.Type()); h.Schema != want {
		return nil, fmt.Errorf("envelope: record schema %q does not match its type %s (want %q)", h.Schema, rec.Type(), want)
	}
	payload, err := canonicalEdited(rec, edit)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	sum := sha256.Sum256(payload)
	created := now.UTC().Truncate(time.Millisecond)
	id, err := ulid.New(ulid.Timestamp(created), ulid.DefaultEntropy())
	if err != nil {
		return nil, fmt.Errorf("envelope: new ULID: %w", err)
	}
	return &Envelope{
		ID:               id.String(),
		Type:             rec.Type(),
		Schema:           h.Schema,
		Origin:           h.From,
		Destination:      h.To,
		AgreementID:      h.AgreementID,
		AgreementVersion: agreementVersion,
		Purpose:          h.Purpose,
		Created:          created,
		Payload:          payload,
		PayloadDigest:    FormatDigest(sum),
		// An edited payload is canonical by edit's contract, not by this
		// package's own check (see SetPayload).
		known: payloadMark{payload: payload, checked: edit == nil, sum: sum},
	}, nil
}

// SetPayload sets Payload and PayloadDigest to a payload that is canonical
// already, as CanonicalizeJSON and CanonicalizeJSONEdit return it (and so
// the gateway's export obligations), and remembers that it is: signing the
// envelope then uses it as it is instead of canonicalizing it again, and
// AppendJSON writes it without re-scanning it.
//
// A payload that is not in fact canonical makes the envelope fail
// verification, never pass: PayloadDigest is of its own bytes, while Verify
// and VerifyInBatch canonicalize a payload given here before comparing it
// with PayloadDigest (as the destination canonicalizes whatever arrives).
// AppendJSON writes such a payload as it is, so one that is not even valid
// JSON makes an envelope the destination cannot decode.
func (e *Envelope) SetPayload(canonical []byte) {
	e.Payload, e.PayloadDigest = canonical, PayloadDigest(canonical)
	e.known = payloadMark{payload: canonical}
}

// SigningDigest is what the signer signs: the SHA-256 of the canonical
// encoding of the envelope without Signature and Batch. A payload known to be
// canonical (from NewEnvelope, DecodeEnvelope or SetPayload) is not
// canonicalized again.
func (e *Envelope) SigningDigest() ([32]byte, error) {
	canon, err := e.canonicalPayload()
	if err != nil {
		return [32]byte{}, err
	}
	return e.signingDigest(canon)
}

// signingDigest computes SigningDigest from the payload's canonical form,
// writing the envelope's members in canonical order by hand; a test holds it
// equal to Digest of the envelope without Signature and Batch.
func (e *Envelope) signingDigest(canonPayload []byte) ([32]byte, error) {
	if v := e.AgreementVersion; v > 1<<53 || v < -(1<<53) {
		return [32]byte{}, fmt.Errorf("envelope %s: agreement_version %d is out of range", e.ID, v)
	}
	// The signing form is as long as the payload and dropped once hashed,
	// for every envelope sealed and every one verified: a pooled buffer.
	buf := canonBuffers.Get().(*[]byte)
	b := slices.Grow((*buf)[:0], len(canonPayload)+512)
	defer func() { *buf = b[:0]; putCanonBuffer(buf) }()
	b = append(b, `{"agreement_id":`...)
	b = appendCanonicalString(b, e.AgreementID)
	b = append(b, `,"agreement_version":`...)
	b = strconv.AppendInt(b, int64(e.AgreementVersion), 10)
	b = append(b, `,"created":`...)
	b, err := appendJSONTime(b, e.Created)
	if err != nil {
		return [32]byte{}, fmt.Errorf("envelope %s: created: %w", e.ID, err)
	}
	b = append(b, `,"destination":`...)
	b = appendCanonicalString(b, e.Destination)
	b = append(b, `,"id":`...)
	b = appendCanonicalString(b, e.ID)
	b = append(b, `,"origin":`...)
	b = appendCanonicalString(b, e.Origin)
	b = append(b, `,"payload":`...)
	b = append(b, canonPayload...)
	b = append(b, `,"payload_digest":`...)
	b = appendCanonicalString(b, e.PayloadDigest)
	b = append(b, `,"purpose":`...)
	b = appendCanonicalString(b, string(e.Purpose))
	b = append(b, `,"schema":`...)
	b = appendCanonicalString(b, e.Schema)
	if e.Signer != "" {
		b = append(b, `,"signer":`...)
		b = appendCanonicalString(b, e.Signer)
	}
	b = append(b, `,"type":`...)
	b = appendCanonicalString(b, string(e.Type))
	b = append(b, '}')
	return sha256.Sum256(b), nil
}

// Sign sets Signer and signs the envelope alone. See SignDigest for how each
// key type signs.
func (e *Envelope) Sign(signer crypto.Signer, signerURI string) error {
	if signerURI == "" {
		return errors.New("envelope: sign: no signer URI")
	}
	e.Signer = signerURI
	e.Signature, e.Batch = nil, nil
	d, err := e.SigningDigest()
	if err != nil {
		return fmt.Errorf("envelope %s: %w", e.ID, err)
	}
	sig, err := SignDigest(signer, d)
	if err != nil {
		return fmt.Errorf("envelope %s: %w", e.ID, err)
	}
	e.Signature = sig
	return nil
}

// Verify checks that Payload's canonical form matches PayloadDigest, and that
// the signature (alone, or over the batch root when Batch is set) verifies
// under pub. It does not decide whether pub may speak for Origin: the caller
// checks the signer's certificate, and then calls Record.
func (e *Envelope) Verify(pub crypto.PublicKey) error {
	_, err := e.VerifyAndDigest(pub)
	return err
}

// VerifyAndDigest is Verify, and returns the signing digest it verified:
// what a destination's receipt binds (NewBoundReceipt), without hashing
// the envelope a second time for it.
func (e *Envelope) VerifyAndDigest(pub crypto.PublicKey) ([32]byte, error) {
	canon, err := e.checkPayload()
	if err != nil {
		return [32]byte{}, err
	}
	d, err := e.signingDigest(canon)
	if err != nil {
		return [32]byte{}, fmt.Errorf("envelope %s: %w", e.ID, err)
	}
	if e.Batch != nil && len(e.Signature) == 0 {
		err = e.Batch.verify(d, pub, e.ID)
	} else if err = VerifyDigest(pub, d, e.Signature); err != nil {
		err = fmt.Errorf("envelope %s: %w", e.ID, err)
	}
	if err != nil {
		return [32]byte{}, err
	}
	return d, nil
}

// canonicalPayload returns the payload in canonical form, which the digest
// is over, so that an envelope whose JSON was re-indented on the way (which
// re-indents the embedded payload too) still verifies. Payload is returned as
// it is when it is the slice known to be canonical.
//
// Trusting that slice without looking is safe because the signing digest
// always covers the bytes actually in Payload: were they not canonical after
// all (changed in place since, or wrongly given to SetPayload), the signature
// is over bytes no verifier puts in the digest it checks, for every verifier
// (checkedPayload, and DecodeEnvelope at the destination) uses only bytes this
// package canonicalized itself and has not seen change. Such an envelope
// fails verification; it never passes.
func (e *Envelope) canonicalPayload() ([]byte, error) {
	if e.known.holds(e.Payload) {
		return e.Payload, nil
	}
	return e.canonicalize()
}

// canonicalize returns Payload, which must be a JSON object, in canonical form.
func (e *Envelope) canonicalize() ([]byte, error) {
	if p := bytes.TrimLeft(e.Payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return nil, fmt.Errorf("envelope %s: payload is not a JSON object", e.ID)
	}
	canon, err := CanonicalizeJSON(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("envelope %s: payload: %w", e.ID, err)
	}
	return canon, nil
}

// checkPayload checks the ID and the payload digest and returns the
// payload's canonical form.
func (e *Envelope) checkPayload() ([]byte, error) {
	if err := e.checkID(); err != nil {
		return nil, err
	}
	canon, sum, err := e.checkedPayload()
	if err != nil {
		return nil, err
	}
	if err := e.checkDigest(sum); err != nil {
		return nil, err
	}
	return canon, nil
}

// checkedPayload returns the payload's canonical form and its SHA-256.
// Payload is taken as it is only when this package canonicalized it itself
// and its bytes have not changed since, which their hash (needed anyway)
// tells; any other payload, a SetPayload one included, is canonicalized,
// so that a payload that is not canonical fails the digest check as it
// always has.
func (e *Envelope) checkedPayload() ([]byte, [32]byte, error) {
	if e.known.checked && e.known.holds(e.Payload) {
		if sum := sha256.Sum256(e.Payload); sum == e.known.sum {
			return e.Payload, sum, nil
		}
	}
	canon, err := e.canonicalize()
	if err != nil {
		return nil, [32]byte{}, err
	}
	return canon, sha256.Sum256(canon), nil
}

// checkID checks that the ID is a ULID.
func (e *Envelope) checkID() error {
	if _, err := ulid.ParseStrict(e.ID); err != nil {
		return fmt.Errorf("envelope %q: id is not a ULID: %w", e.ID, err)
	}
	return nil
}

// checkDigest checks PayloadDigest against sum, the SHA-256 of the
// payload's canonical form.
func (e *Envelope) checkDigest(sum [32]byte) error {
	if got := FormatDigest(sum); got != e.PayloadDigest {
		return fmt.Errorf("envelope %s: payload digest is %s, envelope says %s", e.ID, got, e.PayloadDigest)
	}
	return nil
}

// Record decodes the payload strictly and checks that the envelope's header
// says what the record says. It does not validate the record; obligations may
// have masked fields.
func (e *Envelope) Record() (Record, error) {
	// Decoded as the type the envelope names, which Check has matched to
	// its schema: a payload that says otherwise fails below or in decoding.
	rec, err := decodeAs(e.Payload, e.Schema)
	if err != nil {
		return nil, fmt.Errorf("envelope %s: payload: %w", e.ID, err)
	}
	if mismatches := e.mismatches(rec); len(mismatches) > 0 {
		return nil, fmt.Errorf("envelope %s: header does not match payload: %v", e.ID, mismatches)
	}
	return rec, nil
}

// mismatches lists where the envelope's header says otherwise than rec.
func (e *Envelope) mismatches(rec Record) []string {
	h := rec.Head()
	var mismatches []string
	check := func(field, env, rec string) {
		if env != rec {
			mismatches = append(mismatches, fmt.Sprintf("%s %q, payload %q", field, env, rec))
		}
	}
	check("type", string(e.Type), string(rec.Type()))
	check("schema", e.Schema, h.Schema)
	check("origin", e.Origin, h.From)
	check("destination", e.Destination, h.To)
	check("agreement_id", e.AgreementID, h.AgreementID)
	check("purpose", string(e.Purpose), string(h.Purpose))
	return mismatches
}

// Check verifies what an envelope must satisfy before its signature is worth
// checking: a ULID, a known type whose schema matches, two different known
// provinces, a canonical payload matching its digest, and not both a
// signature and a batch proof.
func (e *Envelope) Check() error {
	if _, err := e.checkPayload(); err != nil {
		return err
	}
	return e.checkHeader()
}

// checkHeader checks the type, schema, origin and destination, and the
// proofs (checkProof), for Check and for a decoded envelope.
func (e *Envelope) checkHeader() error {
	if want := SchemaFor(e.Type); want == "" || e.Type == RecordAgreement || e.Schema != want {
		return fmt.Errorf("envelope %s: type %q and schema %q do not go together", e.ID, e.Type, e.Schema)
	}
	if !IsProvince(e.Origin) || !IsProvince(e.Destination) || e.Origin == e.Destination {
		return fmt.Errorf("envelope %s: origin %q and destination %q are not two provinces", e.ID, e.Origin, e.Destination)
	}
	return e.checkProof()
}

// checkProof refuses an envelope that carries both a signature and a batch
// proof: Verify would check the signature alone, and the proof, kept with
// the envelope as it arrived, would go unauthenticated. Senders write one
// or the other (Sign and SignBatch clear the other; WithBatchProof refuses
// a signed envelope), as receipts do (Receipt.Check).
func (e *Envelope) checkProof() error {
	if len(e.Signature) > 0 && e.Batch != nil {
		return fmt.Errorf("envelope %s: has both a signature and a batch proof", e.ID)
	}
	return nil
}

// maxEnvelopeSize bounds an encoded envelope: a record and room for the
// header, signature and batch proof around it.
const maxEnvelopeSize = 2 * MaxRecordSize

// DecodeEnvelope decodes an envelope strictly (unknown members and trailing
// data are errors, size bounded by MaxRecordSize plus room for the proof) and
// checks it as Check does; Payload comes back in canonical form, known to be
// canonical (see SetPayload): a slice of data when the payload came in that
// form, as nodes send it, so data must not change while the envelope is in
// use. Verify the signature next.
//
// It means what encoding/json with DisallowUnknownFields means for an
// Envelope (see decodeenvelope.go), and canonicalizes the payload while
// decoding it: once, where the checks and the signing digest need it.
func DecodeEnvelope(data []byte) (*Envelope, error) {
	if len(data) > maxEnvelopeSize {
		return nil, &DecodeError{Offset: -1, Message: fmt.Sprintf("envelope has %d bytes, more than the limit of %d", len(data), maxEnvelopeSize)}
	}
	return decodeEnvelope(&lexer{data: data, maxNest: maxJSONNesting})
}

// decodeEnvelope is DecodeEnvelope past the size check, reading with l:
// decodeEnvelopeRecord's lexer also decodes the payload as its record
// (lexer.inline), and the checks are these either way.
func decodeEnvelope(l *lexer) (*Envelope, error) {
	e := new(Envelope)
	canon, ok := l.envelope(e)
	if !ok || !l.end() {
		return nil, l.err
	}
	return e.checkDecoded(canon)
}

// checkDecoded makes Check's checks, in its order, on an envelope just
// decoded and the canonical form of its payload made while decoding it (nil
// when it made none), and keeps that form as the payload.
func (e *Envelope) checkDecoded(canon []byte) (*Envelope, error) {
	if err := e.checkID(); err != nil {
		return nil, err
	}
	if canon == nil {
		// Not an object that canonicalizes: canonicalize says what is wrong.
		var err error
		if canon, err = e.canonicalize(); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(canon)
	if err := e.checkDigest(sum); err != nil {
		return nil, err
	}
	if err := e.checkHeader(); err != nil {
		return nil, err
	}
	e.Payload, e.known = canon, payloadMark{payload: canon, checked: true, sum: sum}
	return e, nil
}
