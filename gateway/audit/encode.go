package audit

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// The canonical encoding of an entry is written by hand, member by member,
// rather than by json.Marshal and contracts.CanonicalizeJSON: appends encode
// every entry, some of them inside a write transaction that every writer of
// the file waits for. The result is byte for byte what that generic path
// gives (the tests hold the two equal): RFC 8785 members in the order of
// their names' UTF-16 code units (all ASCII here, so byte order), the members
// json.Marshal leaves out (omitempty, omitzero) left out, strings escaped as
// RFC 8785 does after json.Marshal's replacement of invalid UTF-8, integers
// within ±2^53 in decimal and the time as json.Marshal writes it in UTC. A
// field added to Entry must be added to encodeEntry too, in its place by
// name; TestMarshalMatchesGenericForEveryField fails until it is.

// maxSafeInt bounds the integers an entry may carry: RFC 8785 numbers are
// IEEE 754 doubles, exact only up to 2^53, and contracts.CanonicalizeJSON
// refuses anything beyond.
const maxSafeInt = 1 << 53

// maxIndexDigits is the most bytes an index's decimal form can take.
const maxIndexDigits = len("-9223372036854775808")

// encodedFixed is room for every member name with its punctuation, the
// digest, the time and four integers; the strings' bytes come on top. It
// sizes the buffer so an encoding takes one allocation.
const encodedFixed = 480

// encodeEntry writes e's canonical encoding except for the index member's
// value, and returns it with the offset where the index's digits belong.
// The index is left out because an append learns it only inside its
// transaction, from the log's size, while everything else can be encoded
// before.
func encodeEntry(e *Entry) (enc []byte, cut int, err error) {
	return appendEntry(make([]byte, 0, encodedSize(e)), e, &encoder{})
}

// appendEntry appends encodeEntry(e) to out; cut counts from out's start.
// c carries what the entries written one after the other in out share.
func appendEntry(out []byte, e *Entry, c *encoder) (enc []byte, cut int, err error) {
	valid := c.valid
	out = append(out, '{')
	out = appendStringMember(out, "agreement_id", e.AgreementID, valid)
	if out, err = appendIntMember(out, "agreement_version", e.AgreementVersion); err != nil {
		return nil, 0, err
	}
	out = appendStringMember(out, "decision", string(e.Decision), valid)
	out = appendStringMember(out, "destination", string(e.Destination), valid)
	out = appendStringMember(out, "detail", string(e.Detail), valid)
	out = appendStringMember(out, "due", e.Due, false)
	out = appendStringMember(out, "envelope_id", e.EnvelopeID, valid)
	out = appendName(out, "index")
	cut = len(out)
	out = appendString(appendName(out, "kind"), string(e.Kind), valid)
	if out, err = appendIntMember(out, "latency_ms", e.LatencyMS); err != nil {
		return nil, 0, err
	}
	out = appendStringMember(out, "origin", string(e.Origin), valid)
	if !e.PayloadDigest.IsZero() {
		out = appendDigest(appendName(out, "payload_digest"), e.PayloadDigest)
	}
	out = appendStringMember(out, "peer", e.Peer, false)
	if !e.Policy.IsZero() {
		out = appendPolicy(appendName(out, "policy"), e.Policy, valid)
	}
	out = appendStringMember(out, "purpose", e.Purpose, valid)
	if len(e.Reasons) > 0 {
		out = appendReasons(appendName(out, "reasons"), e.Reasons, valid)
	}
	out = appendStringMember(out, "record_type", e.RecordType, valid)
	out = appendStringMember(out, "refers_to", e.RefersTo, valid)
	out = appendStringMember(out, "serial", e.Serial, valid)
	if out, err = appendIntMember(out, "size", e.Size); err != nil {
		return nil, 0, err
	}
	if out, err = c.appendTime(appendName(out, "time"), e.Time); err != nil {
		return nil, 0, err
	}
	return append(out, '}'), cut, nil
}

// encodedSize is the capacity an entry's encoding (with an index) needs
// unless its strings need escaping.
func encodedSize(e *Entry) int {
	n := encodedFixed + len(e.AgreementID) + len(e.Decision) + len(e.Destination) +
		len(e.Detail) + len(e.Due) + len(e.EnvelopeID) + len(e.Kind) + len(e.Origin) +
		len(e.Peer) + len(e.Policy.Federation) + len(e.Policy.Province) + len(e.Purpose) +
		len(e.RecordType) + len(e.RefersTo) + len(e.Serial)
	for _, r := range e.Reasons {
		n += len(r) + len(`"",`)
	}
	return n
}

// spliceIndex appends enc to out with index i written at cut.
func spliceIndex(out, enc []byte, cut int, i int64) []byte {
	out = append(out, enc[:cut]...)
	out = strconv.AppendInt(out, i, 10)
	return append(out, enc[cut:]...)
}

// checkIndex refuses an index the canonical encoding cannot carry.
func checkIndex(i int64) error {
	if i < -maxSafeInt || i > maxSafeInt {
		return fmt.Errorf("encode entry: index %d is not an integer within ±2^53", i)
	}
	return nil
}

// appendName starts the member called name, after a comma unless it is the
// first member of its object.
func appendName(out []byte, name string) []byte {
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	return append(out, '"', ':')
}

// appendStringMember writes a string member, or nothing for an empty string
// (omitempty).
func appendStringMember(out []byte, name, s string, plain bool) []byte {
	if s == "" {
		return out
	}
	return appendString(appendName(out, name), s, plain)
}

// appendString writes s as RFC 8785 does; plain says it is known to be
// ASCII with nothing to escape, so it goes between its quotes as it is.
func appendString(out []byte, s string, plain bool) []byte {
	if !plain {
		return contracts.AppendCanonicalString(out, s)
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// appendIntMember writes an integer member, or nothing for zero
// (omitempty); an integer beyond ±2^53 is an error, as in
// contracts.CanonicalizeJSON.
func appendIntMember(out []byte, name string, v int64) ([]byte, error) {
	if v == 0 {
		return out, nil
	}
	if v < -maxSafeInt || v > maxSafeInt {
		return nil, fmt.Errorf("encode entry: %s %d is not an integer within ±2^53", name, v)
	}
	return strconv.AppendInt(appendName(out, name), v, 10), nil
}

// appendDigest writes a digest as its MarshalText does: 64 lowercase hex
// digits.
func appendDigest(out []byte, d Digest) []byte {
	out = append(out, '"')
	out = hex.AppendEncode(out, d[:])
	return append(out, '"')
}

// appendPolicy writes the policy revisions as an object of its non-empty
// members.
func appendPolicy(out []byte, p PolicyRevisions, plain bool) []byte {
	out = append(out, '{')
	out = appendStringMember(out, "federation", p.Federation, plain)
	out = appendStringMember(out, "province", p.Province, plain)
	return append(out, '}')
}

// appendReasons writes the reasons as an array of strings.
func appendReasons(out []byte, rs []Reason, plain bool) []byte {
	out = append(out, '[')
	for i, r := range rs {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, string(r), plain)
	}
	return append(out, ']')
}

// encoder is what the writing of entries one after the other in a buffer
// learns along.
type encoder struct {
	// valid says the entries passed Validate, which leaves their tokens and
	// codes (every string but the peer and the due date) letters, digits
	// and . _ : - only: RFC 8785 writes those as they are, so they are
	// copied without the scan for what to escape, which would go over the
	// bytes Validate just checked.
	valid bool
	// last is the time last written, and lastText how, quotes included,
	// in the buffer: the entries of one Prepare mostly share a time (the
	// clock's for every zero Time), and the time is formatted once for
	// them (BenchmarkPrepare100Now measures such a batch).
	last     time.Time
	lastText []byte
}

// appendTime is appendTime, copying what it wrote for the same instant.
func (c *encoder) appendTime(out []byte, t time.Time) ([]byte, error) {
	if c.lastText != nil && t.Equal(c.last) {
		return append(out, c.lastText...), nil
	}
	start := len(out)
	out, err := appendTime(out, t)
	if err != nil {
		return nil, err
	}
	c.last, c.lastText = t, out[start:len(out):len(out)]
	return out, nil
}

// appendTime writes t as json.Marshal writes t.UTC(): RFC 3339 with the
// nanoseconds' trailing zeros trimmed. Like Time.MarshalJSON it refuses a
// year that is not four digits wide.
func appendTime(out []byte, t time.Time) ([]byte, error) {
	out = append(out, '"')
	start := len(out)
	out = t.UTC().AppendFormat(out, time.RFC3339Nano)
	if out[start+len("2006")] != '-' {
		return nil, fmt.Errorf("encode entry: time %v: year outside of range [0,9999]", t)
	}
	return append(out, '"'), nil
}
