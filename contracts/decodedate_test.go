package contracts

import (
	"fmt"
	"testing"
)

// TestParseDateAgreesWithParseDate: parseDate takes exactly the dates
// ParseDate takes among strings of its form, with the same meaning, and
// nothing of another form.
func TestParseDateAgreesWithParseDate(t *testing.T) {
	var docs []string
	for _, y := range []int{0, 1, 4, 100, 400, 1900, 1984, 2000, 2023, 2024, 2025, 2026, 2100, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				docs = append(docs, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	docs = append(docs, "", "2026-1-01", "2026-01-1", "26-01-01", "2026/01/01", "2026-01-01T", "+026-01-01",
		"2026-0a-01", "2026-01-0 ", " 2026-01-0", "2026-01-01\x00", "２０２６-01-01")
	for _, s := range docs {
		got, ok := parseDate([]byte(s))
		want, err := ParseDate(s)
		if ok && (err != nil || got != want) || !ok && err == nil && len(s) == 10 {
			t.Errorf("%q: parseDate %v %v, ParseDate %v %v", s, got, ok, want, err)
		}
	}
}
