package contracts

import "time"

// parseDate reads "YYYY-MM-DD" from a string's bytes, without making a
// string of them, for a date as ParseDate would read it; ok is false for
// anything else, which the caller then hands to ParseDate for its meaning
// or its error (TestParseDateAgreesWithParseDate holds the two together).
func parseDate(b []byte) (d Date, ok bool) {
	if len(b) != len(time.DateOnly) || b[4] != '-' || b[7] != '-' {
		return Date{}, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, okY := num(b[:4])
	m, okM := num(b[5:7])
	day, okD := num(b[8:])
	if !okY || !okM || !okD || m < 1 || m > 12 || day < 1 || day > daysIn(y, time.Month(m)) {
		return Date{}, false
	}
	return Date{y, time.Month(m), day}, true
}
