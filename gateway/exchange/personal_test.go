package exchange

import (
	"regexp"
	"testing"
)

// Patterns of personal data that must never reach logs or the audit log:
// resident ID numbers (18 characters, the last a digit or X) and mobile
// numbers (11 digits starting with 1), not embedded in longer digit runs.
var (
	idNumberPattern = regexp.MustCompile(`(^|[^0-9])[1-9][0-9]{16}[0-9Xx]([^0-9]|$)`)
	mobilePattern   = regexp.MustCompile(`(^|[^0-9])1[3-9][0-9]{9}([^0-9]|$)`)
)

func checkNoPersonalData(t testing.TB, where, text string) {
	t.Helper()
	if m := idNumberPattern.FindString(text); m != "" {
		t.Errorf("%s contain an ID number: %q", where, m)
	}
	if m := mobilePattern.FindString(text); m != "" {
		t.Errorf("%s contain a mobile number: %q", where, m)
	}
}

func TestPersonalDataPatterns(t *testing.T) {
	for _, s := range []string{"id 51132119900307123X ok", `"phone":"13812345678"`} {
		if !idNumberPattern.MatchString(s) && !mobilePattern.MatchString(s) {
			t.Errorf("%q not detected", s)
		}
	}
	for _, s := range []string{"01JDQ8ZB7H2K3M4N5P6Q7R8S9T", "size 1500 bytes", "sha256:6f1ed002ab5595859014ebf0951522d9"} {
		if idNumberPattern.MatchString(s) || mobilePattern.MatchString(s) {
			t.Errorf("%q wrongly detected", s)
		}
	}
}
