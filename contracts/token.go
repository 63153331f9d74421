package contracts

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckToken reports why s cannot be a token, or nil: the alphabet of every
// identifier the gateway's audit log holds, which may hold no personal
// data, and so of the agreement_id records carry. A token has letters, digits and
// . _ : - only, and no segment between separators that is a run of 11 or
// more digits, optionally ending in X (the shape of a mobile or resident
// ID number); that still admits UUIDs, ULIDs, hex digests and ids like
// "AG-51-44-2026-001". Length is the caller's: MaxIDLen for an id, the
// audit log's own bound for its tokens. The empty string is a token.
//
// One rule for both, so that no agreement_id the contracts accept is one
// the audit log refuses: a flow under it could never be audited, and a
// node that writes the audit entry with the record could then never store
// the record.
//
// The error names the first character not allowed, which it reports
// before a number wherever they stand, and never repeats a number.
func CheckToken(s string) error {
	number := false
	seg := 0 // where the current segment starts
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isAlnum(s[i]) {
			continue
		}
		if !number && i-seg >= 11 && looksLikePersonalNumber(s[seg:i]) {
			number = true
		}
		seg = i + 1
		if i < len(s) && !isTokenSeparator(s[i]) {
			c, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Errorf("character %d is %q, want letters, digits and . _ : - only", utf8.RuneCountInString(s[:i])+1, c)
		}
	}
	if number {
		return fmt.Errorf("has a run of 11 or more digits, the shape of a phone or ID number")
	}
	return nil
}

// isTokenSeparator reports whether c is one of the characters a token may
// have between its letters and digits.
func isTokenSeparator(c byte) bool { return c == '.' || c == '_' || c == ':' || c == '-' }

// looksLikePersonalNumber reports whether seg is 11 or more digits, possibly
// ending in X: the shape of mobile and resident ID numbers.
func looksLikePersonalNumber(seg string) bool {
	body := strings.TrimRight(seg, "Xx")
	if len(seg)-len(body) > 1 || len(body) < 11 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
