package contracts

import "encoding/json"

// A destination reads a delivery's envelopes in one pass over the request
// body: each envelope is decoded with its record where it lies as the body
// is split, instead of being split out and read again.

// DecodedEnvelope is an envelope and its record as DecodeEnvelopeRecord
// returns them when it succeeds.
type DecodedEnvelope struct {
	Env *Envelope
	Rec Record
}

// SplitEnvelopes is RawObjectSplit for a delivery, whose member split
// holds envelopes: in the same pass it decodes each of the first decode of
// them with its record, as DecodeEnvelopeRecord would decode it alone,
// instead of finding where each ends and reading it again. decoded[i]
// belongs to elems[i]; its Env is nil where that decode would not succeed
// or was not tried, and the envelope is then to be decoded alone, which
// also tells what is wrong with it.
func SplitEnvelopes(data []byte, split string, decode int, member func(name string, value json.RawMessage) error) (elems []json.RawMessage, decoded []DecodedEnvelope, err error) {
	err = splitObject(data, split, func(l *lexer) (ok bool) {
		elems, decoded, ok = l.envelopeElements(decode)
		return ok
	}, member)
	if err != nil {
		return nil, nil, err
	}
	return elems, decoded, nil
}

// envelopeElements is rawElements for an array of envelopes, decoding the
// first decode of them where they lie (see SplitEnvelopes). An envelope
// that does not decode is read again for its syntax alone, as rawElements
// reads it.
func (l *lexer) envelopeElements(decode int) ([]json.RawMessage, []DecodedEnvelope, bool) {
	out, decoded := []json.RawMessage{}, []DecodedEnvelope{}
	ok := l.array(func(i int) bool {
		l.ws()
		start := l.pos
		var d DecodedEnvelope
		if i < decode {
			if e, rec, end, ok := decodeEnvelopeRecordAt(l.data[start:]); ok {
				d, l.pos = DecodedEnvelope{e, rec}, start+end
			}
		}
		if d.Env == nil && !l.skipRaw() {
			return false
		}
		out, decoded = append(out, l.data[start:l.pos]), append(decoded, d)
		return true
	})
	return out, decoded, ok
}
