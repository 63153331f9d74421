package contracts

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON encoders for envelopes and receipts. They write exactly
// what json.Marshal writes (TestAppendJSONMatchesMarshal and
// FuzzAppendJSON hold them to it): members in struct order, omitempty
// members left out when empty, []byte as standard base64 and nil as null,
// times as RFC 3339 with sub-second digits, strings escaped HTML-safe as
// json.Marshal does by default. What they save is encoding/json's reflection
// and, for a payload known to be canonical, its re-scan and compaction of
// the payload.

// AppendJSON appends the envelope's JSON encoding to b: the bytes
// json.Marshal(e) writes. A payload that this package canonicalized, or that
// was set by SetPayload, is copied with only the escapes json.Marshal adds,
// without being parsed again; any other is checked and compacted as
// json.Marshal does, so invalid JSON is an error. On error it returns b with
// nothing appended.
func (e *Envelope) AppendJSON(b []byte) ([]byte, error) {
	if e == nil {
		return append(b, "null"...), nil
	}
	start := len(b)
	b = slices.Grow(b, 384+len(e.Payload)+base64.StdEncoding.EncodedLen(len(e.Signature))+e.Batch.JSONSize())
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(e.Type))
	b = append(b, `,"schema":`...)
	b = appendJSONString(b, e.Schema)
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, e.Origin)
	b = append(b, `,"destination":`...)
	b = appendJSONString(b, e.Destination)
	b = append(b, `,"agreement_id":`...)
	b = appendJSONString(b, e.AgreementID)
	b = append(b, `,"agreement_version":`...)
	b = strconv.AppendInt(b, int64(e.AgreementVersion), 10)
	b = append(b, `,"purpose":`...)
	b = appendJSONString(b, string(e.Purpose))
	b = append(b, `,"created":`...)
	b, err := appendJSONTime(b, e.Created)
	if err != nil {
		return b[:start], fmt.Errorf("envelope %s: created: %w", e.ID, err)
	}
	b = append(b, `,"payload":`...)
	if b, err = e.appendPayload(b); err != nil {
		return b[:start], fmt.Errorf("envelope %s: payload: %w", e.ID, err)
	}
	b = append(b, `,"payload_digest":`...)
	b = appendJSONString(b, e.PayloadDigest)
	if e.Signer != "" {
		b = append(b, `,"signer":`...)
		b = appendJSONString(b, e.Signer)
	}
	if len(e.Signature) > 0 {
		b = append(b, `,"signature":`...)
		b = appendJSONBytes(b, e.Signature)
	}
	if e.Batch != nil {
		b = append(b, `,"batch":`...)
		b = e.Batch.appendJSON(b)
	}
	return append(b, '}'), nil
}

// appendPayload appends Payload as json.Marshal embeds a json.RawMessage:
// compacted, with the HTML-unsafe characters escaped. A payload known to be
// canonical is compact and valid already and only needs the escapes; any
// other goes through encoding/json, which also checks it.
func (e *Envelope) appendPayload(b []byte) ([]byte, error) {
	if e.known.holds(e.Payload) {
		return appendHTMLSafe(b, e.Payload), nil
	}
	p, err := json.Marshal(e.Payload)
	if err != nil {
		return b, err
	}
	return append(b, p...), nil
}

// AppendJSON appends the receipt's JSON encoding to b: the bytes
// json.Marshal(r) writes. On error it returns b with nothing appended.
func (r *Receipt) AppendJSON(b []byte) ([]byte, error) {
	if r == nil {
		return append(b, "null"...), nil
	}
	start := len(b)
	b = slices.Grow(b, 256+len(r.EnvelopeDigest)+len(r.Reason)+base64.StdEncoding.EncodedLen(len(r.Signature))+r.Batch.JSONSize())
	b = append(b, `{"envelope_id":`...)
	b = appendJSONString(b, r.EnvelopeID)
	if r.EnvelopeDigest != "" {
		b = append(b, `,"envelope_digest":`...)
		b = appendJSONString(b, r.EnvelopeDigest)
	}
	b = append(b, `,"payload_digest":`...)
	b = appendJSONString(b, r.PayloadDigest)
	b = append(b, `,"receiver":`...)
	b = appendJSONString(b, r.Receiver)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, r.Reason)
	}
	b = append(b, `,"received_at":`...)
	b, err := appendJSONTime(b, r.ReceivedAt)
	if err != nil {
		return b[:start], fmt.Errorf("receipt for %s: received_at: %w", r.EnvelopeID, err)
	}
	if len(r.Signature) > 0 {
		b = append(b, `,"signature":`...)
		b = appendJSONBytes(b, r.Signature)
	}
	if r.Batch != nil {
		b = append(b, `,"batch":`...)
		b = r.Batch.appendJSON(b)
	}
	return append(b, '}'), nil
}

// WithBatchProof returns env, an encoded envelope that has neither a
// signature nor a batch proof (as AppendJSON writes it), with p as its batch
// member, as AppendJSON would write the envelope with Batch set, without
// decoding it again: the origin seals envelopes unsigned and adds each
// one's proof when its delivery batch is signed.
func WithBatchProof(env []byte, p *BatchProof) ([]byte, error) {
	if p == nil {
		return nil, errNotUnsignedEnvelope
	}
	return AppendWithBatchProof(make([]byte, 0, len(env)+len(`,"batch":`)+p.JSONSize()), env, p)
}

var errNotUnsignedEnvelope = errors.New("not an unsigned envelope object and a proof")

// AppendWithBatchProof appends what WithBatchProof returns to b, so that a
// sender can write each envelope of a batch, with its proof, straight into
// the request body. On error b is returned unchanged.
func AppendWithBatchProof(b, env []byte, p *BatchProof) ([]byte, error) {
	env = bytes.TrimRight(env, " \t\r\n")
	// AppendJSON writes the signature and the proof after payload_digest,
	// the last member after the payload: only that tail is looked at, so
	// the payload is neither read again nor mistaken for them.
	i := bytes.LastIndex(env, []byte(`,"payload_digest":`))
	if p == nil || i < 0 || env[len(env)-1] != '}' || bytes.Contains(env[i:], []byte(`"batch":`)) || bytes.Contains(env[i:], []byte(`"signature":`)) {
		return b, errNotUnsignedEnvelope
	}
	b = append(b, env[:len(env)-1]...)
	b = append(b, `,"batch":`...)
	b = p.appendJSON(b)
	return append(b, '}'), nil
}

// appendJSON appends the proof's JSON encoding, as json.Marshal writes it.
func (p *BatchProof) appendJSON(b []byte) []byte {
	b = append(b, `{"root":`...)
	b = appendJSONBytes(b, p.Root)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(p.Index), 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(p.Size), 10)
	b = append(b, `,"path":`...)
	if p.Path == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, h := range p.Path {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONBytes(b, h)
		}
		b = append(b, ']')
	}
	b = append(b, `,"signature":`...)
	b = appendJSONBytes(b, p.Signature)
	return append(b, '}')
}

// JSONSize estimates the length of the proof's JSON encoding, 0 for none,
// to size a buffer: a sender sizes a request body with it before writing
// each envelope with its proof (AppendWithBatchProof).
func (p *BatchProof) JSONSize() int {
	if p == nil {
		return 0
	}
	return 96 + 48*len(p.Path) + base64.StdEncoding.EncodedLen(len(p.Root)+len(p.Signature))
}

// appendJSONTime appends t as json.Marshal writes a time.Time: RFC 3339 in
// quotes, with the sub-second digits it has. A year outside 0-9999 or a zone
// offset of a day or more is an error, as there.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	out, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(out, '"'), nil
}

// appendJSONBytes appends p as json.Marshal writes a []byte: null for nil,
// otherwise standard base64 in quotes.
func appendJSONBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as json.Marshal writes a string (see
// appendJSONString), for the node's other hand-written encoders.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }

// AppendJSONStrings appends ss as json.Marshal writes a []string: null for
// nil, otherwise each string as AppendJSONString writes it, in brackets.
// The node's hand-written encoders write their lists of reasons with it.
func AppendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as json.Marshal writes a string: the quote, the
// backslash and control characters escaped (\b, \f, \n, \r and \t by name,
// others as \u00XX), <, > and & as \u003c, \u003e and \u0026, each byte of
// invalid UTF-8 as \ufffd, and U+2028 and U+2029 as \u2028 and \u2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendHTMLSafe appends compact, valid JSON as json.Marshal embeds a
// json.RawMessage: with <, > and & (which valid JSON has only in strings) as
// \u003c, \u003e and \u0026, and U+2028 and U+2029 as \u2028 and \u2029.
// Every exported payload goes through it, so it passes over eight bytes at
// a time where none of those can start (htmlPlainPrefix).
func appendHTMLSafe(b, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		if j := htmlPlainPrefix(src, i); j > i {
			i = j - 1
			continue
		}
		switch c := src[i]; c {
		case '<', '>', '&':
			b = append(b, src[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case 0xE2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				b = append(b, src[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
				i += 2
				start = i + 1
			}
		}
	}
	return append(b, src[start:]...)
}

// htmlPlainPrefix returns the index of the first 8-byte block at or after i
// that holds '<', '>', '&' or 0xE2 (the first byte of U+2028 and U+2029):
// what appendHTMLSafe must look at one byte at a time. A block holds one of
// them when its word XORed with that byte in every lane has a zero lane.
func htmlPlainPrefix(src []byte, i int) int {
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		lt, gt, amp, e2 := w^('<'*lanes1), w^('>'*lanes1), w^('&'*lanes1), w^(0xE2*lanes1)
		if ((lt-lanes1)&^lt|(gt-lanes1)&^gt|(amp-lanes1)&^amp|(e2-lanes1)&^e2)&lanesHigh != 0 {
			return i
		}
	}
	return i
}
