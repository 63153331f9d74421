package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Entry is one line of the audit log: who exchanged what with whom, under
// which agreement and policy, with which outcome. It holds identifiers, codes,
// digests, sizes and times, never personal data; Validate enforces that.
//
// An entry is stored as its RFC 8785 canonical JSON and its Merkle leaf is
// SHA-256(0x00 || those bytes), so an auditor re-hashes exactly what was stored.
// That encoding is written field by field by encodeEntry, which a new field
// must join.
type Entry struct {
	// Index is the entry's position in the log, set by Append.
	Index int64 `json:"index"`
	// Time is when the event happened, in UTC; Append fills in the log's
	// clock when it is zero.
	Time time.Time `json:"time"`
	// Kind is what happened.
	Kind Kind `json:"kind"`
	// EnvelopeID identifies the envelope (or registry object) the entry is about.
	// Both ends of a border log the same envelope id, which is what Reconcile
	// matches on.
	EnvelopeID string `json:"envelope_id,omitempty"`
	// RefersTo is the envelope an entry answers: the envelope a receipt
	// acknowledges, the referral a referral update moves.
	RefersTo string `json:"refers_to,omitempty"`
	// RecordType is the type of the record carried, one of the
	// contracts.RecordType values (see RecordTypes).
	RecordType string `json:"record_type,omitempty"`
	// Origin is the sending province.
	Origin Province `json:"origin,omitempty"`
	// Destination is the receiving province.
	Destination Province `json:"destination,omitempty"`
	// AgreementID and AgreementVersion name the agreement the flow travelled
	// under, or the agreement that changed.
	AgreementID      string `json:"agreement_id,omitempty"`
	AgreementVersion int64  `json:"agreement_version,omitempty"`
	// Purpose is why the record crossed, one of the contracts.Purpose values
	// (see Purposes).
	Purpose string `json:"purpose,omitempty"`
	// Decision is the policy outcome at this node.
	Decision Decision `json:"decision,omitempty"`
	// Reasons are the codes behind the decision; a denial has at least one.
	Reasons []Reason `json:"reasons,omitempty"`
	// Policy holds the revisions of both policy layers that decided.
	Policy PolicyRevisions `json:"policy,omitzero"`
	// PayloadDigest is the SHA-256 of the record's canonical encoding.
	PayloadDigest Digest `json:"payload_digest,omitzero"`
	// Size is the payload's size in bytes.
	Size int64 `json:"size,omitempty"`
	// Peer is the SPIFFE identity of the peer node or business system
	// ("spiffe://p44.example.org/node/gw-1"), never a person's identity.
	Peer string `json:"peer,omitempty"`
	// LatencyMS is the delivery latency in milliseconds (sent to receipt).
	LatencyMS int64 `json:"latency_ms,omitempty"`
	// Due is the day ("2006-01-02") a referral must be acted on by; Stats
	// counts referrals past it and not closed as overdue.
	Due string `json:"due,omitempty"`
	// Serial is a certificate's serial number in hex: the certificate an
	// event concerns (KindCertificate), or the one an operator acted with
	// (KindRequeue, KindDiscard), since operator identities name people.
	Serial string `json:"serial,omitempty"`
	// Detail qualifies the kind: referral status, agreement transition,
	// policy layer or certificate event.
	Detail Detail `json:"detail,omitempty"`
}

// PolicyRevisions names the revisions of the two policy layers, which must
// both allow a flow.
type PolicyRevisions struct {
	// Federation is the revision of the federation policy bundle.
	Federation string `json:"federation,omitempty"`
	// Province is the revision of the deciding province's local policy.
	Province string `json:"province,omitempty"`
}

// IsZero reports whether no revision is set, so the field is left out of the
// encoding.
func (p PolicyRevisions) IsZero() bool { return p == PolicyRevisions{} }

// Digest is a SHA-256 digest, written as 64 lowercase hex digits.
type Digest [32]byte

// IsZero reports whether the digest is unset.
func (d Digest) IsZero() bool { return d == Digest{} }

// String returns the digest in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText writes the digest in hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a digest written in hex.
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) != 2*len(d) {
		return fmt.Errorf("digest: want %d hex digits, got %d", 2*len(d), len(b))
	}
	_, err := hex.Decode(d[:], b)
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	return nil
}

// Marshal returns the entry's canonical (RFC 8785) JSON encoding, the bytes
// the log stores and hashes: what contracts.CanonicalizeJSON makes of the
// entry's json.Marshal, written directly (see encodeEntry). It does not
// validate; Append does.
func (e Entry) Marshal() ([]byte, error) {
	if err := checkIndex(e.Index); err != nil {
		return nil, err
	}
	enc, cut, err := encodeEntry(&e)
	if err != nil {
		return nil, err
	}
	var digits [maxIndexDigits]byte
	return slices.Insert(enc, cut, strconv.AppendInt(digits[:0], e.Index, 10)...), nil
}

// ParseEntry decodes an entry from its stored encoding. Unknown fields are
// an error: an entry that carries more than the Entry type can hold was not
// written by this package.
func ParseEntry(data []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("decode entry: %w", err)
	}
	return e, nil
}

// LeafHash is the RFC 6962 leaf hash of an entry's stored encoding:
// SHA-256(0x00 || data).
func LeafHash(data []byte) tlog.Hash { return tlog.RecordHash(data) }
