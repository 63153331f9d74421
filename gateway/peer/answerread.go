package peer

import (
	"bytes"
	"encoding/json"

	"github.com/laborlink/laborlink/contracts"
)

// An origin reads every receipt of an answer: the general decoder
// (decodeDeliverResponseBody) scans each result while it checks the body's
// syntax, again to split the result into members, and the receipt a third
// time to decode it. readAnswer reads an answer as destinations write it
// (DeliverResponse.appendJSON) reading each receipt once, and hands the
// receipts it decoded to the client, which would decode them next.

// answer is a response as the origin read it. receipts[i] is Results[i]'s
// receipt decoded (contracts.DecodeReceipt) when the answer was read in one
// pass and the result is stored or duplicate; nil leaves it to be decoded.
type answer struct {
	DeliverResponse
	receipts []*contracts.Receipt
}

// receipt is Results[i]'s receipt if it was decoded with the answer, or nil.
func (a *answer) receipt(i int) *contracts.Receipt {
	if a.receipts == nil {
		return nil
	}
	return a.receipts[i]
}

// decodeAnswer reads a response body: in one pass when it is written as
// destinations write it, else with the general decoder, whose outcome and
// errors are the peer API's (see readAnswer).
func decodeAnswer(body []byte) (answer, error) {
	if a, ok := readAnswer(body); ok {
		return a, nil
	}
	resp, err := decodeDeliverResponseBody(body)
	return answer{DeliverResponse: resp}, err
}

// Where a receipt ends is told by what follows it: its result's end and
// the next result, or the results' end and the chain.
var (
	nextResult = []byte(`},{"envelope_id":"`)
	lastResult = []byte(`}],"chain":`)
)

// readAnswer reads a body written as DeliverResponse.appendJSON writes
// it: its members and each result's in that order, without space, ids,
// statuses and reasons without escapes. Each receipt is taken to end
// where its result does (the next bytes.Index of what follows a result)
// and is decoded then by contracts.DecodeReceipt, which takes exactly one
// receipt and nothing more. ok is false for any other body, and for one
// whose receipt or chain does not decode: the general decoder then reads
// it, and says what is wrong.
//
// A body it takes is valid JSON (its own grammar around values that
// strict decoders took whole, each starting and ending as a value does),
// with no member unknown or repeated, so the general decoder would read
// the same response from it.
func readAnswer(body []byte) (a answer, ok bool) {
	r := answerReader{b: body}
	if !r.lit(`{"results":[`) {
		return answer{}, false
	}
	a.Results = []Result{}
	if !r.lit(`]`) {
		for {
			res, rec, ok := r.result()
			if !ok {
				return answer{}, false
			}
			a.Results = append(a.Results, res)
			a.receipts = append(a.receipts, rec)
			if r.lit(`}]`) {
				break
			}
			if !r.lit(`},`) {
				return answer{}, false
			}
		}
	}
	if !r.lit(`,"chain":`) || body[len(body)-1] != '}' || r.pos >= len(body)-1 {
		return answer{}, false
	}
	chain := body[r.pos : len(body)-1]
	if chain[0] != '[' && chain[0] != 'n' || json.Unmarshal(chain, &a.Chain) != nil {
		return answer{}, false
	}
	return a, true
}

// answerReader reads a body from pos on.
type answerReader struct {
	b   []byte
	pos int
}

// lit reads s if it comes next.
func (r *answerReader) lit(s string) bool {
	if len(r.b)-r.pos < len(s) || string(r.b[r.pos:r.pos+len(s)]) != s {
		return false
	}
	r.pos += len(s)
	return true
}

// plain reads the rest of a string whose opening quote is read: printable
// ASCII without escapes, as unquote takes a string as it is.
func (r *answerReader) plain() ([]byte, bool) {
	n := bytes.IndexByte(r.b[r.pos:], '"')
	if n < 0 || !plainString(r.b[r.pos:r.pos+n]) {
		return nil, false
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n + 1
	return s, true
}

// result reads one result up to its closing brace, which it leaves.
func (r *answerReader) result() (res Result, rec *contracts.Receipt, ok bool) {
	if !r.lit(`{"envelope_id":"`) {
		return res, nil, false
	}
	id, ok := r.plain()
	if !ok || !r.lit(`,"status":"`) {
		return res, nil, false
	}
	status, ok := r.plain()
	if !ok {
		return res, nil, false
	}
	res.Status = statusOfBytes(status)
	if r.lit(`,"reasons":[`) {
		if res.Reasons, ok = r.reasons(); !ok {
			return res, nil, false
		}
	}
	if r.lit(`,"receipt":`) {
		if !r.lit("null") {
			if res.Receipt, rec, ok = r.receipt(); !ok {
				return res, nil, false
			}
		}
	}
	if r.pos >= len(r.b) || r.b[r.pos] != '}' {
		return res, nil, false
	}
	if rec != nil && string(id) == rec.EnvelopeID {
		res.EnvelopeID = rec.EnvelopeID // one string for both
	} else {
		res.EnvelopeID = string(id)
	}
	if res.Status != StatusStored && res.Status != StatusDuplicate {
		rec = nil // the client does not read it
	}
	return res, rec, true
}

// statusOfBytes is the status s names, the constants' own strings for the
// statuses there are.
func statusOfBytes(s []byte) Status {
	for _, known := range [...]Status{StatusStored, StatusDuplicate, StatusRejected, StatusDeferred} {
		if string(s) == string(known) {
			return known
		}
	}
	return Status(s)
}

// reasons reads the rest of an array of plain strings whose opening
// bracket is read.
func (r *answerReader) reasons() ([]string, bool) {
	out := []string{}
	if r.lit("]") {
		return out, true
	}
	for {
		if !r.lit(`"`) {
			return nil, false
		}
		s, ok := r.plain()
		if !ok {
			return nil, false
		}
		out = append(out, string(s))
		if r.lit("]") {
			return out, true
		}
		if !r.lit(",") {
			return nil, false
		}
	}
}

// receipt reads a receipt object, up to where its result ends.
func (r *answerReader) receipt() (json.RawMessage, *contracts.Receipt, bool) {
	rest := r.b[r.pos:]
	end := bytes.Index(rest, nextResult)
	if end < 0 {
		end = bytes.Index(rest, lastResult)
	}
	if end < 2 || rest[0] != '{' || rest[end-1] != '}' {
		return nil, nil, false
	}
	raw := rest[:end:end]
	rec, err := contracts.DecodeReceipt(raw)
	if err != nil {
		return nil, nil, false
	}
	r.pos += end
	return raw, rec, true
}
