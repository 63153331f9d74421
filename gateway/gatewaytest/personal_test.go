package gatewaytest

import "testing"

func TestPersonalDataPatterns(t *testing.T) {
	for _, s := range []string{"id 51132119900307123X ok", `"phone":"13812345678"`, "51132119900307123x", "phone=19912345678\n"} {
		if !idNumberPattern.MatchString(s) && !mobilePattern.MatchString(s) {
			t.Errorf("%q not detected", s)
		}
	}
	for _, s := range []string{"01JDQ8ZB7H2K3M4N5P6Q7R8S9T", "01K513211990030712345678AB", "size 1500 bytes", "sha256:6f1ed002ab5595859014ebf0951522d9", "seq 12345678901234"} {
		if idNumberPattern.MatchString(s) || mobilePattern.MatchString(s) {
			t.Errorf("%q wrongly detected", s)
		}
	}
}
