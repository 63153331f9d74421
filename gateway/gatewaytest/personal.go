package gatewaytest

import (
	"regexp"
	"testing"
)

// Personal data that must never reach logs, metrics or the audit log:
// resident ID numbers (18 characters, the last a digit or X) and mobile
// numbers (11 digits from 13 to 19), each standing alone, not inside a
// longer run of digits and letters such as an envelope id.
var (
	idNumberPattern = regexp.MustCompile(`(^|[^0-9A-Za-z])[1-9][0-9]{16}[0-9Xx]([^0-9A-Za-z]|$)`)
	mobilePattern   = regexp.MustCompile(`(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)`)
)

// NoPersonalData fails t for each kind of personal data text holds; where
// names the text in the failure ("logs of node 51").
func NoPersonalData(t testing.TB, where, text string) {
	t.Helper()
	if m := idNumberPattern.FindString(text); m != "" {
		t.Errorf("%s contain an ID number: %q", where, m)
	}
	if m := mobilePattern.FindString(text); m != "" {
		t.Errorf("%s contain a mobile number: %q", where, m)
	}
}
