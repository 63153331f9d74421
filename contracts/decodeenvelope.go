package contracts

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hand-written decoders for envelopes, receipts and batch proofs. Unlike the
// record decoders they are not stricter than encoding/json: peers have been
// sending these documents to encoding/json with DisallowUnknownFields, and
// the decoders keep its meaning exactly (FuzzDecodeEnvelopeEquivalence holds
// them to it):
//
//   - a member name matches exactly or, failing that, as encoding/json folds
//     case (foldedMember); any other member is an error;
//   - a member may be given twice: the later value is decoded over the
//     earlier one, so a later string, number or time wins, a later batch
//     object is merged into the earlier proof, and a later array is decoded
//     into the earlier slice's elements (sliceInto);
//   - null leaves strings, numbers and times as they were and makes byte
//     slices, the path and the batch proof nil; a null payload is the four
//     bytes null;
//   - []byte is standard base64 in a string, or an array of numbers 0-255;
//   - objects and arrays may nest 10000 deep in all, and no deeper.

// The member names of an envelope, a receipt and a batch proof.
var (
	envelopeMembers = []string{"id", "type", "schema", "origin", "destination", "agreement_id", "agreement_version",
		"purpose", "created", "payload", "payload_digest", "signer", "signature", "batch"}
	receiptMembers    = []string{"envelope_id", "envelope_digest", "payload_digest", "receiver", "status", "reason", "received_at", "signature", "batch"}
	batchProofMembers = []string{"root", "index", "size", "path", "signature"}
)

// envelope decodes an envelope into e, with e.Payload the raw bytes of the
// payload's value (within l.data, not a copy). It also returns the payload's
// canonical form, made in the same pass, when the payload is an object that
// canonicalizes; otherwise nil. A document that is null leaves e as it is.
func (l *lexer) envelope(e *Envelope) (canon []byte, ok bool) {
	ok = l.null() || l.objectRepeating(func(key string) bool { return l.envelopeMember(e, key, &canon) })
	return canon, ok
}

// envelopeMember decodes the value of the envelope member key into e, and
// the payload's canonical form into canon (see envelope).
func (l *lexer) envelopeMember(e *Envelope, key string, canon *[]byte) bool {
	switch key {
	case "id":
		return l.strInto(&e.ID)
	case "type":
		return l.codeInto((*string)(&e.Type))
	case "schema":
		return l.codeInto(&e.Schema)
	case "origin":
		return l.codeInto(&e.Origin)
	case "destination":
		return l.codeInto(&e.Destination)
	case "agreement_id":
		return l.strInto(&e.AgreementID)
	case "agreement_version":
		return l.intInto(&e.AgreementVersion)
	case "purpose":
		return l.codeInto((*string)(&e.Purpose))
	case "created":
		return l.timeInto(&e.Created)
	case "payload":
		if l.inline != nil {
			// One pass or none: a payload that does not decode as its
			// record here leaves the envelope to DecodeEnvelope and
			// Record, which would canonicalize it again anyway.
			if !l.payloadRecord(e) {
				return l.fail("payload not decoded with its record")
			}
			*canon = e.Payload
			return true
		}
		var ok bool
		*canon, ok = l.payload(&e.Payload)
		return ok
	case "payload_digest":
		return l.strInto(&e.PayloadDigest)
	case "signer":
		return l.strInto(&e.Signer)
	case "signature":
		return l.bytesInto(&e.Signature)
	case "batch":
		return l.batchProofInto(&e.Batch)
	}
	if name := foldedMember(key, envelopeMembers); name != "" {
		return l.envelopeMember(e, name, canon)
	}
	return l.unknown()
}

// payload reads the payload's value into *p as its raw bytes, as
// json.RawMessage keeps them, and returns its canonical form when it is an
// object that canonicalizes. A payload that is valid JSON but not
// canonicalizable (a fraction, a repeated name) still
// decodes, and Check then refuses it with the reason.
//
// A payload that came in canonical form, as nodes send it, is its own
// canonical form: the slice of l.data it is returned, not a copy. Reading
// it for its syntax shows that (skipCanonical); an object that is not is
// read again to canonicalize it.
func (l *lexer) payload(p *json.RawMessage) ([]byte, bool) {
	if l.peek() == '{' {
		start := l.pos
		before := *l
		canonical, ok := l.skipCanonical()
		if !ok {
			return nil, false
		}
		*p = l.data[start:l.pos]
		if canonical {
			return *p, true
		}
		after := *l
		*l = before
		if l.payloadBuf == nil {
			// The payload is most of the rest of an envelope. A repeated
			// payload member reuses this buffer: allocating the rest of
			// the document for each would let a peer make the decoder
			// allocate the square of the envelope's size.
			l.payloadBuf = make([]byte, 0, len(l.data)-start)
		}
		canon, ok := l.canonObject(l.payloadBuf[:0])
		if ok {
			l.payloadBuf = canon
			return canon, true
		}
		// Valid JSON, as skipCanonical found, but not canonicalizable:
		// the payload ends where it found, and the buffer is kept for
		// the next payload member.
		buf := l.payloadBuf
		*l = after
		l.payloadBuf = buf
		return nil, true
	}
	start := l.pos
	if !l.skip() {
		return nil, false
	}
	*p = l.data[start:l.pos]
	return nil, true
}

// batchProofInto decodes a batch proof into *p, into the proof already there
// when the member is given twice; null makes it nil.
func (l *lexer) batchProofInto(p **BatchProof) bool {
	if l.null() {
		*p = nil
		return true
	}
	if *p == nil {
		*p = new(BatchProof)
	}
	return l.objectRepeating(func(key string) bool { return l.batchProofMember(*p, key) })
}

// pathRoom is the room made for a proof's path at once, rather than
// growing to it: a path is as long as its tree is deep, ten hashes for a
// batch of up to 1024 envelopes.
const pathRoom = 10

// batchProofMember decodes the value of the batch proof member key into p.
func (l *lexer) batchProofMember(p *BatchProof, key string) bool {
	switch key {
	case "root":
		return l.bytesInto(&p.Root)
	case "index":
		return l.intInto(&p.Index)
	case "size":
		return l.intInto(&p.Size)
	case "path":
		if l.null() {
			p.Path = nil
			return true
		}
		if p.Path == nil && !l.emptyArrayAhead() {
			p.Path = make([][]byte, 0, pathRoom)
		}
		return sliceInto(l, &p.Path, l.bytesInto)
	case "signature":
		return l.bytesInto(&p.Signature)
	}
	if name := foldedMember(key, batchProofMembers); name != "" {
		return l.batchProofMember(p, name)
	}
	return l.unknown()
}

// receipt decodes a receipt into r; a document that is null leaves r as it is.
func (l *lexer) receipt(r *Receipt) bool {
	return l.null() || l.objectRepeating(func(key string) bool { return l.receiptMember(r, key) })
}

// receiptMember decodes the value of the receipt member key into r.
func (l *lexer) receiptMember(r *Receipt, key string) bool {
	switch key {
	case "envelope_id":
		return l.strInto(&r.EnvelopeID)
	case "envelope_digest":
		return l.strInto(&r.EnvelopeDigest)
	case "payload_digest":
		return l.strInto(&r.PayloadDigest)
	case "receiver":
		return l.strInto(&r.Receiver)
	case "status":
		return l.codeInto((*string)(&r.Status))
	case "reason":
		return l.strInto(&r.Reason)
	case "received_at":
		return l.timeInto(&r.ReceivedAt)
	case "signature":
		return l.bytesInto(&r.Signature)
	case "batch":
		return l.batchProofInto(&r.Batch)
	}
	if name := foldedMember(key, receiptMembers); name != "" {
		return l.receiptMember(r, name)
	}
	return l.unknown()
}

// bytesInto decodes a []byte: standard base64 in a string, an array of
// numbers from 0 to 255 (decoded into *p's elements, see sliceInto), or null
// for nil.
func (l *lexer) bytesInto(p *[]byte) bool {
	switch {
	case l.null():
		*p = nil
		return true
	case l.peek() == '[':
		return sliceInto(l, p, l.byteInto)
	}
	return l.base64Into(p)
}

// base64Into decodes a string of standard base64 as encoding/json does:
// with base64.StdEncoding, which skips \r and \n, into bytes of its own
// that may share an allocation with the document's other short byte
// strings (see carve).
func (l *lexer) base64Into(p *[]byte) bool {
	l.ws()
	start := l.pos
	raw, plain, ok := l.rawString()
	if !ok {
		return false
	}
	text := raw[1 : len(raw)-1]
	if !plain {
		l.pos = start
		s, ok := l.str()
		if !ok {
			return false
		}
		text = []byte(s)
	}
	b := l.carve(base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(b, text)
	if err != nil {
		l.pos = start
		return l.fail("not standard base64: %v", err)
	}
	*p = b[:n:n]
	return true
}

// slabSize is the block the short byte strings of a document are decoded
// into (see carve): a proof in a batch of 500 has a root, a signature and
// nine path hashes, 384 bytes in all.
const slabSize = 512

// carve returns n bytes for a decoded byte string: from the lexer's slab
// when it is short, so that a proof's hashes and signature share one
// allocation instead of taking one each, and a fresh slice otherwise. A
// new slab is no larger than what the rest of the document could decode
// to. The slices carved are disjoint; the caller caps its own at its
// length. Zero bytes are an empty slice, not nil, as encoding/json
// decodes "", even before the slab is made.
func (l *lexer) carve(n int) []byte {
	if n == 0 || n > slabSize/4 {
		return make([]byte, n)
	}
	if cap(l.slab)-len(l.slab) < n {
		l.slab = make([]byte, 0, n+min(slabSize-n, (len(l.data)-l.pos)*3/4))
	}
	start := len(l.slab)
	l.slab = l.slab[:start+n]
	return l.slab[start : start+n : start+n]
}

// byteInto decodes one element of a []byte given as an array: a number from
// 0 to 255; null leaves the element as it is.
func (l *lexer) byteInto(p *byte) bool {
	if l.null() {
		return true
	}
	c := l.peek()
	if c != '-' && (c < '0' || c > '9') {
		return l.fail("%s is not a valid byte", l.kindAhead())
	}
	start := l.pos
	num, ok := l.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(string(num), 10, 8)
	if err != nil {
		l.pos = start
		return l.fail("number %s is not a byte (0 to 255)", num)
	}
	*p = byte(n)
	return true
}

// sliceInto decodes an array into *s as encoding/json does: element by
// element into the slice already there, extended within its capacity and
// then grown as append grows it, and finally cut to the array's length.
// Only a member given twice can tell: an element given as null keeps what
// the earlier value left in its place. An empty array makes an empty,
// non-nil slice.
func sliceInto[T any](l *lexer, s *[]T, elem func(*T) bool) bool {
	v, n := *s, 0
	ok := l.array(func(i int) bool {
		switch {
		case i < len(v):
		case i < cap(v):
			v = v[:i+1]
		default:
			var zero T
			v = append(v, zero)
		}
		n = i + 1
		return elem(&v[i])
	})
	if !ok {
		return false
	}
	if n == 0 {
		v = make([]T, 0)
	}
	*s = v[:n]
	return true
}

// foldedMember returns the one of names that key matches as encoding/json
// matches a member name it does not find exactly, or "" when none does: both
// folded with ASCII letters in upper case and other runes in the smallest
// of their Unicode simple case folding, so that "ID" and "ſigner" (with a
// long s) are id and signer.
func foldedMember(key string, names []string) string {
	folded := foldName(key)
	for _, name := range names {
		if folded == foldName(name) {
			return name
		}
	}
	return ""
}

// foldName folds a member name as encoding/json does (see foldedMember).
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		b.WriteRune(r)
	}
	return b.String()
}
