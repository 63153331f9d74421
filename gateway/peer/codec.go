package peer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
)

// The peer API's bodies carry a hundred envelopes or receipts of ~2 KB at a
// time. encoding/json would re-scan and compact each raw envelope when
// writing a body and scan every byte twice when reading one; these write
// the same JSON directly and read it in one pass (contracts.RawObject),
// leaving envelopes and receipts as slices of the body: a request's
// envelopes are decoded in that pass too (contracts.SplitEnvelopes), an
// answer's receipts by their own decoder. Member names are matched exactly
// and unknown or repeated ones refused: both ends are nodes.

// deliverBody is a DeliverRequest encoded already (encodeBatch): parts,
// written one after the other, are the body. The envelopes are parts as
// they lie in the batch, between parts written around them, so that a
// body does not hold a second copy of every envelope.
type deliverBody struct {
	parts [][]byte
}

// size is the body's length, the request's Content-Length.
func (b deliverBody) size() int {
	n := 0
	for _, p := range b.parts {
		n += len(p)
	}
	return n
}

// reader reads the body from its start; each reader has its own place.
func (b deliverBody) reader() io.Reader {
	bufs := net.Buffers(slices.Clone(b.parts))
	return &bufs
}

// digestMember starts the tail of an unsigned envelope that
// contracts.AppendWithBatchProof looks at: the rest of the envelope before
// it goes as it is.
var digestMember = []byte(`,"payload_digest":`)

// encodeBatch writes the request for a batch as json.Marshal would write
// its DeliverRequest, each envelope with proofs[i] added where there is one
// (contracts.AppendWithBatchProof on the envelope's tail, from its last
// payload_digest member: the proof goes in there, and what comes before
// is the same). An envelope that cannot take its proof is a
// *delivery.UnsendableError. unsigned is the first envelope queued to be
// signed with its batch that has no proof, or -1.
func encodeBatch(chain [][]byte, batch []store.Queued, proofs []*contracts.BatchProof) (body deliverBody, unsigned int, err error) {
	n := chainLen(chain)
	for i := range batch {
		n += 2
		if proofs != nil && proofs[i] != nil {
			n += 96 + len(`,"batch":`) + proofs[i].JSONSize()
		}
	}
	// written holds what goes around the envelopes; ends[k] is where the
	// k-th piece of it ends, each piece going before the k-th envelope's
	// head (head[k]) and the last closing the body.
	written := make([]byte, 0, n)
	ends := make([]int, 0, len(batch)+1)
	heads := make([][]byte, 0, len(batch))
	written = append(written, `{"chain":`...)
	written = appendChain(written, chain)
	written = append(written, `,"envelopes":[`...)
	unsigned = -1
	for i, q := range batch {
		if i > 0 {
			written = append(written, ',')
		}
		ends = append(ends, len(written))
		head := q.Envelope
		if proofs != nil && proofs[i] != nil {
			// Without the member, at 0: AppendWithBatchProof refuses the
			// whole envelope and says why.
			at := max(bytes.LastIndex(q.Envelope, digestMember), 0)
			if written, err = contracts.AppendWithBatchProof(written, q.Envelope[at:], proofs[i]); err != nil {
				return deliverBody{}, -1, &delivery.UnsendableError{EnvelopeID: q.EnvelopeID, Err: err}
			}
			head = q.Envelope[:at]
		} else if q.SigningDigest != nil && unsigned < 0 {
			unsigned = i
		}
		heads = append(heads, head)
	}
	written = append(written, "]}"...)
	ends = append(ends, len(written))
	body = deliverBody{parts: make([][]byte, 0, 2*len(batch)+1)}
	start := 0
	for k, end := range ends {
		if k > 0 && len(heads[k-1]) > 0 {
			body.parts = append(body.parts, heads[k-1])
		}
		body.parts = append(body.parts, written[start:end:end])
		start = end
	}
	return body, unsigned, nil
}

// chainLen is about what appendChain writes, plus room for a body's frame.
func chainLen(chain [][]byte) int {
	n := 64
	for _, der := range chain {
		n += base64.StdEncoding.EncodedLen(len(der)) + 3
	}
	return n
}

func appendChain(b []byte, chain [][]byte) []byte {
	if chain == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, der := range chain {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, der)
		b = append(b, '"')
	}
	return append(b, ']')
}

// decodeDeliverBody reads a request body. The envelopes are split while
// the body's syntax is checked, in one pass, and decoded with their records
// where they lie (up to contracts.MaxDeliveryBatch of them: a longer batch is refused).
func decodeDeliverBody(body []byte) (DeliverRequest, error) {
	var req DeliverRequest
	envelopes, decoded, err := contracts.SplitEnvelopes(body, "envelopes", contracts.MaxDeliveryBatch, func(name string, v json.RawMessage) (err error) {
		switch name {
		case "chain":
			return json.Unmarshal(v, &req.Chain)
		case "envelopes":
			if v[0] != '[' { // an array is split already
				req.Envelopes, err = contracts.RawArray(v) // null, or an error naming what it is
			}
			return err
		}
		return fmt.Errorf("unknown member")
	})
	if err != nil {
		return DeliverRequest{}, err
	}
	if envelopes != nil {
		req.Envelopes, req.Decoded = envelopes, decoded
	}
	return req, nil
}

// appendJSON writes the response as json.Marshal would, receipts as they
// are: the destination writes one per delivered batch, a result for every
// envelope, and reflection cost more than the rest of the writing.
func (r DeliverResponse) appendJSON(b []byte) []byte {
	n := chainLen(r.Chain)
	for i := range r.Results {
		res := &r.Results[i]
		n += len(res.Receipt) + len(res.EnvelopeID) + 64
		for _, s := range res.Reasons {
			n += len(s) + 3
		}
	}
	b = slices.Grow(b, n)
	b = append(b, `{"results":`...)
	if r.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Results[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"chain":`...)
	b = appendChain(b, r.Chain)
	return append(b, '}')
}

// appendJSON writes the result as json.Marshal would, its receipt as it is.
func (res *Result) appendJSON(b []byte) []byte {
	b = append(b, `{"envelope_id":`...)
	b = contracts.AppendJSONString(b, res.EnvelopeID)
	b = append(b, `,"status":`...)
	b = contracts.AppendJSONString(b, string(res.Status))
	if len(res.Reasons) > 0 {
		b = append(b, `,"reasons":`...)
		b = contracts.AppendJSONStrings(b, res.Reasons)
	}
	if len(res.Receipt) > 0 {
		b = append(b, `,"receipt":`...)
		b = append(b, res.Receipt...)
	}
	return append(b, '}')
}

// decodeDeliverResponseBody reads a response body. The results are split
// while the body's syntax is checked, in one pass, as a request's envelopes
// are; the members are then read in order, so that a body wrong in two
// places is refused for the first of them.
func decodeDeliverResponseBody(body []byte) (DeliverResponse, error) {
	type member struct {
		name  string
		value json.RawMessage
	}
	var members []member
	raws, err := contracts.RawObjectSplit(body, "results", func(name string, v json.RawMessage) error {
		members = append(members, member{name, v})
		return nil
	})
	if err != nil {
		return DeliverResponse{}, err
	}
	var resp DeliverResponse
	for _, m := range members {
		if err := resp.decodeMember(m.name, m.value, raws); err != nil {
			return resp, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return resp, nil
}

// decodeMember reads one member of a response body; split are the results'
// elements when they are an array.
func (resp *DeliverResponse) decodeMember(name string, v json.RawMessage, split []json.RawMessage) error {
	switch name {
	case "chain":
		return json.Unmarshal(v, &resp.Chain)
	case "results":
		if v[0] != '[' {
			_, err := contracts.RawArray(v) // null, or an error naming what it is
			return err
		}
		resp.Results = make([]Result, len(split))
		for i, raw := range split {
			if err := decodeResult(raw, &resp.Results[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown member")
}

func decodeResult(raw []byte, r *Result) error {
	return contracts.RawObject(raw, func(name string, v json.RawMessage) error {
		switch name {
		case "envelope_id":
			return unquote(v, &r.EnvelopeID)
		case "status":
			return unquote(v, &r.Status)
		case "reasons":
			return json.Unmarshal(v, &r.Reasons)
		case "receipt":
			if string(v) != "null" {
				r.Receipt = v
			}
			return nil
		}
		return fmt.Errorf("unknown member")
	})
}

// unquote reads a JSON value into s as json.Unmarshal does. A string of
// printable ASCII without escapes, as envelope ids and statuses are, is
// taken as it is; anything else is left to encoding/json. v is one value,
// checked already, without surrounding space.
func unquote[S ~string](v json.RawMessage, s *S) error {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return json.Unmarshal(v, s)
	}
	in := v[1 : len(v)-1]
	if !plainString(in) {
		return json.Unmarshal(v, s)
	}
	*s = S(in)
	return nil
}

// plainString reports whether b, between quotes, is a JSON string that
// means its own bytes: printable ASCII without a quote or an escape.
func plainString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
