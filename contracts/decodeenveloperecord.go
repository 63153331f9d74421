package contracts

// DecodeEnvelopeRecord is DecodeEnvelope and then the envelope's Record, as
// a destination calls them on every envelope, reading the payload once
// where they read it twice: an envelope as nodes send it (the schema
// before the payload, the payload in canonical form) has its payload
// decoded as its record while the envelope is, and the same pass shows
// the payload canonical (see lexer.uncanon). Any other envelope is
// decoded by DecodeEnvelope and Record themselves.
//
// The error is DecodeEnvelope's, with a nil envelope; or, for an envelope
// that decodes, Record's, with the envelope and a nil record. The results
// are always those of DecodeEnvelope and Record (FuzzDecodeEnvelopeRecord
// holds them to it), Payload being a slice of data as DecodeEnvelope
// makes it.
func DecodeEnvelopeRecord(data []byte) (*Envelope, Record, error) {
	if e, rec, ok := decodeEnvelopeRecord(data); ok {
		return e, rec, nil
	}
	e, err := DecodeEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.Record()
	if err != nil {
		return e, nil, err
	}
	return e, rec, nil
}

// inlineRecord is the record lexer.payloadRecord decoded from an
// envelope's payload, the schema it decoded it as, and the payload.
type inlineRecord struct {
	rec     Record
	schema  string
	payload []byte
}

// decodeEnvelopeRecord decodes an envelope and its record in one pass,
// with ok false whenever that pass cannot tell that DecodeEnvelope and
// Record would succeed with the same results: the payload not (or not
// only) decoded inline, decoded as a schema the envelope no longer names,
// or any check failing, whose error the caller then gets from them.
func decodeEnvelopeRecord(data []byte) (*Envelope, Record, bool) {
	if len(data) > maxEnvelopeSize {
		return nil, nil, false
	}
	in := new(inlineRecord)
	e, err := decodeEnvelope(&lexer{data: data, maxNest: maxJSONNesting, inline: in, strs: new([]byte)})
	if err != nil {
		return nil, nil, false
	}
	return e.withInline(in)
}

// decodeEnvelopeRecordAt is decodeEnvelopeRecord for the envelope that
// data starts with, whatever follows it: end is where the envelope ends.
// The envelope is decoded as if data ended there, so that ok means
// DecodeEnvelopeRecord(data[:end]) succeeds with the same results.
//
// Only the first maxEnvelopeSize bytes are read: an envelope that does not
// end within them is one DecodeEnvelopeRecord refuses for its size before
// reading it, and decoding it here (a string of most of an 80 MiB body,
// say) would cost a copy of it before finding that out.
func decodeEnvelopeRecordAt(data []byte) (e *Envelope, rec Record, end int, ok bool) {
	in := new(inlineRecord)
	l := &lexer{data: data[:min(len(data), maxEnvelopeSize)], maxNest: maxJSONNesting, inline: in, strs: new([]byte)}
	e = new(Envelope)
	canon, ok := l.envelope(e)
	if !ok {
		return nil, nil, 0, false
	}
	if e, err := e.checkDecoded(canon); err == nil {
		if e, rec, ok := e.withInline(in); ok {
			return e, rec, l.pos, true
		}
	}
	return nil, nil, 0, false
}

// withInline is e with the record decoded inline from its payload, when
// that is the record DecodeEnvelope's payload and Record would give.
func (e *Envelope) withInline(in *inlineRecord) (*Envelope, Record, bool) {
	// The payload member may have been given again after the one decoded.
	p := e.Payload
	if in.rec == nil || len(p) != len(in.payload) || &p[0] != &in.payload[0] || e.Schema != in.schema {
		return nil, nil, false
	}
	// Record's check; DecodeEnvelope's are made.
	if len(e.mismatches(in.rec)) > 0 {
		return nil, nil, false
	}
	return e, in.rec, true
}

// payloadRecord decodes the payload as the record e's schema names, into
// l.inline, when the payload is in canonical form and no larger than
// Record decodes: the payload is then its own canonical form, and
// decodes to the same record as a payload on its own. Otherwise it returns
// false, wherever it stopped, and envelopeMember fails the pass: the
// envelope is then read by DecodeEnvelope and Record instead.
func (l *lexer) payloadRecord(e *Envelope) bool {
	rec := newRecord(e.Schema)
	if rec == nil || l.peek() != '{' {
		return false
	}
	start := l.pos
	l.uncanon = false
	if !l.record(rec) || l.uncanon || l.pos-start > MaxRecordSize {
		return false
	}
	e.Payload = l.data[start:l.pos]
	*l.inline = inlineRecord{rec: rec, schema: e.Schema, payload: e.Payload}
	return true
}
