package audit

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// maxToken bounds every identifier, so no field can hold a paragraph.
const maxToken = 80

// Validate reports every field of e that does not fit the log's closed
// vocabulary. It is what makes personal data structurally impossible: text
// can only enter as a token that is neither a name (ASCII only), a resident
// ID number nor a phone number, or as a code from a closed set.
func (e *Entry) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("audit entry %s: "+format, append([]any{field}, args...)...))
	}
	if !slices.Contains(kinds, e.Kind) {
		bad("kind", "%q is not a known kind", e.Kind)
	}
	if e.Index < 0 {
		bad("index", "negative")
	}
	for _, t := range e.tokens() {
		if err := checkToken(*t.v); err != nil {
			bad(t.field, "%v", err)
		}
	}
	if e.RecordType != "" && !slices.Contains(recordTypes, e.RecordType) {
		bad("record_type", "%q is not a record type", e.RecordType)
	}
	if e.Purpose != "" && !slices.Contains(purposes, e.Purpose) {
		bad("purpose", "%q is not a purpose", e.Purpose)
	}
	if e.Origin != "" && !e.Origin.Valid() {
		bad("origin", "%q is not a province code", e.Origin)
	}
	if e.Destination != "" && !e.Destination.Valid() {
		bad("destination", "%q is not a province code", e.Destination)
	}
	switch e.Decision {
	case "", Allow, Deny:
	default:
		bad("decision", "%q is neither allow nor deny", e.Decision)
	}
	if e.Kind == KindDenied && (e.Decision != Deny || len(e.Reasons) == 0) {
		bad("decision", "a denied entry needs decision deny and at least one reason")
	}
	for _, r := range e.Reasons {
		if !r.Valid() {
			bad("reasons", "%q is not a reason code", r)
		}
	}
	if e.Detail != "" && !slices.Contains(detailsByKind[e.Kind], e.Detail) {
		bad("detail", "%q is not a detail of kind %q", e.Detail, e.Kind)
	}
	if e.Kind == KindReceipt && e.Detail == DetailRejected && e.Decision != Deny {
		bad("detail", "a receipt rejected needs decision deny")
	}
	if e.Size < 0 || e.LatencyMS < 0 || e.AgreementVersion < 0 {
		bad("size/latency_ms/agreement_version", "negative")
	}
	if e.Due != "" {
		if _, err := time.Parse(time.DateOnly, e.Due); err != nil {
			bad("due", "%q is not a date like 2006-01-02", e.Due)
		}
	}
	if e.Peer != "" {
		if err := checkPeer(e.Peer); err != nil {
			bad("peer", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// tokenField is a field of an entry that holds a token, by its JSON name.
type tokenField struct {
	field string
	v     *string
}

// tokens are the fields of e that hold tokens, for Validate and Scrub.
func (e *Entry) tokens() [6]tokenField {
	return [...]tokenField{{"envelope_id", &e.EnvelopeID}, {"refers_to", &e.RefersTo},
		{"agreement_id", &e.AgreementID}, {"serial", &e.Serial},
		{"policy.federation", &e.Policy.Federation}, {"policy.province", &e.Policy.Province}}
}

// checkToken accepts short ASCII identifiers: contracts' token rule
// (letters, digits and . _ : -, no run of digits shaped like a phone or ID
// number), which is also the rule of the agreement_id a record carries, so
// that any flow the contracts accept can be audited.
func checkToken(s string) error {
	if len(s) > maxToken {
		return fmt.Errorf("longer than %d characters", maxToken)
	}
	return contracts.CheckToken(s)
}

// checkPeer accepts the SPIFFE identity of a node or business system:
// spiffe://pNN.<domain>/node|system/<name>. Admin, auditor and operator
// identities name people and are refused; log their certificates by Serial.
func checkPeer(s string) error {
	if _, ok := validPeers.Load(s); ok {
		return nil
	}
	if err := parsePeer(s); err != nil {
		return err
	}
	if validPeerCount.Add(1) <= maxValidPeers {
		validPeers.Store(s, struct{}{})
	}
	return nil
}

// validPeers remembers peer identities that passed checkPeer: every entry
// names one, and a node deals with a few dozen, so each is parsed once.
var (
	validPeers     sync.Map
	validPeerCount atomic.Int64
)

// maxValidPeers bounds validPeers; identities past it are parsed each time.
const maxValidPeers = 4096

// parsePeer is checkPeer's parse of a peer identity.
func parsePeer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "spiffe" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a spiffe:// identity", s)
	}
	host, _, ok := strings.Cut(u.Host, ".")
	if !ok || len(host) != 3 || host[0] != 'p' || !Province(host[1:]).Valid() {
		return fmt.Errorf("%q: host must be p<province code>.<domain>", s)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 2 || (parts[0] != "node" && parts[0] != "system") {
		return fmt.Errorf("%q: path must be /node/<name> or /system/<name>", s)
	}
	if parts[1] == "" {
		return fmt.Errorf("%q: empty name", s)
	}
	if err := checkToken(parts[1]); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if err := checkToken(u.Host); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}
