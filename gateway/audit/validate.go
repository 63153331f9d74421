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
	"unicode/utf8"
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
	tokens := [...]struct{ field, v string }{{"envelope_id", e.EnvelopeID}, {"refers_to", e.RefersTo},
		{"agreement_id", e.AgreementID}, {"serial", e.Serial},
		{"policy.federation", e.Policy.Federation}, {"policy.province", e.Policy.Province}}
	for _, t := range tokens {
		if err := checkToken(t.v); err != nil {
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

// checkToken accepts short ASCII identifiers: letters, digits and . _ : -.
// A segment between separators that is a long run of digits (an 11-digit
// phone number, a 15- or 18-character resident ID number, optionally ending
// in X) is refused, which still admits UUIDs, ULIDs, hex digests and ids like
// "AG-51-44-2026-001". Every entry carries several tokens, so one pass over
// the bytes checks the characters and finds the segments; a bad character
// is reported before a number, wherever they stand.
func checkToken(s string) error {
	if len(s) > maxToken {
		return fmt.Errorf("longer than %d characters", maxToken)
	}
	number := ""
	seg := 0 // where the current segment starts
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isAlnum(rune(s[i])) {
			continue
		}
		if number == "" && i-seg >= 11 && looksLikePersonalNumber(s[seg:i]) {
			number = s[seg:i]
		}
		seg = i + 1
		if i < len(s) && !isSeparator(s[i]) {
			c, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Errorf("character %q not allowed (letters, digits and . _ : - only)", c)
		}
	}
	if number != "" {
		return fmt.Errorf("%q looks like a phone or ID number", number)
	}
	return nil
}

// isSeparator reports whether c is one of the characters a token may have
// between its letters and digits.
func isSeparator(c byte) bool { return c == '.' || c == '_' || c == ':' || c == '-' }

// looksLikePersonalNumber reports whether seg is 11 or more digits, possibly
// ending in X: the shape of mobile and resident ID numbers.
func looksLikePersonalNumber(seg string) bool {
	body := strings.TrimRight(seg, "Xx")
	if len(seg)-len(body) > 1 || len(body) < 11 {
		return false
	}
	for _, c := range body {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
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
