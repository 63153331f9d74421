package contracts

import (
	"bytes"
	"encoding/json"
)

// What the external tests need of the package's insides.

// DecodeStrictPlain is how envelopes and receipts were decoded before the
// hand-written decoders: encoding/json with DisallowUnknownFields, and
// trailing data refused. It is the reference they are held to.
func DecodeStrictPlain(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(data, err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return &DecodeError{Offset: int64(len(data) - len(rest)), Message: "trailing data after the JSON object"}
	}
	return nil
}

// DecodeEnvelopeFields decodes an envelope's members as DecodeEnvelope does,
// without checking it or canonicalizing its payload.
func DecodeEnvelopeFields(data []byte) (*Envelope, error) {
	e := new(Envelope)
	l := &lexer{data: data, maxNest: maxJSONNesting}
	if _, ok := l.envelope(e); !ok || !l.end() {
		return nil, l.err
	}
	return e, nil
}

// DecodeReceiptFields decodes a receipt's members as DecodeReceipt does,
// without checking it.
func DecodeReceiptFields(data []byte) (*Receipt, error) {
	r := new(Receipt)
	l := &lexer{data: data, maxNest: maxJSONNesting}
	if !l.receipt(r) || !l.end() {
		return nil, l.err
	}
	return r, nil
}

// DecodeBatchProofFields decodes a batch proof on its own, as the envelope
// and receipt decoders decode one in a batch member.
func DecodeBatchProofFields(data []byte) (*BatchProof, error) {
	p := new(BatchProof)
	l := &lexer{data: data, maxNest: maxJSONNesting}
	ok := l.null() || l.objectRepeating(func(key string) bool { return l.batchProofMember(p, key) })
	if !ok || !l.end() {
		return nil, l.err
	}
	return p, nil
}

// KnownCanonical reports whether Payload is the slice known to be canonical,
// and whether this package canonicalized it itself (rather than being told
// by SetPayload).
func (e *Envelope) KnownCanonical() (known, checked bool) {
	return e.known.holds(e.Payload), e.known.holds(e.Payload) && e.known.checked
}

// ForgetCanonical drops what the envelope knows of its payload, leaving it
// as an envelope decoded by encoding/json would be.
func (e *Envelope) ForgetCanonical() { e.known = payloadMark{} }

// CanonicalPayload is what SigningDigest signs of the payload.
func (e *Envelope) CanonicalPayload() ([]byte, error) { return e.canonicalPayload() }

// CanonicalDirect is the canonical encoder alone: v's canonical encoding, or
// false when the encoder declines v and Canonical falls back to json.Marshal
// and CanonicalizeJSON.
func CanonicalDirect(v any) ([]byte, bool) { return appendCanonicalValue(nil, v) }

// DecodeEnvelopeRecordOnePass reports whether DecodeEnvelopeRecord reads
// data in one pass, rather than by DecodeEnvelope and Record.
func DecodeEnvelopeRecordOnePass(data []byte) bool {
	_, _, ok := decodeEnvelopeRecord(data)
	return ok
}
