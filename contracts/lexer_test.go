package contracts

import (
	"strings"
	"testing"
)

// TestPlainPrefixStopsAtEverySpecialByte puts each byte value at each place
// of a block: plainPrefix must never step over a quote, a backslash, a
// control character or a byte that is not ASCII, and must step over blocks
// of ordinary bytes.
func TestPlainPrefixStopsAtEverySpecialByte(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	for c := range 256 {
		for at := range 16 {
			data := []byte(strings.Repeat("a", 24))
			data[at] = byte(c)
			got := plainPrefix(data, 0)
			switch {
			case special(byte(c)) && got > at:
				t.Fatalf("byte %#x at %d: plainPrefix stepped to %d, past it", c, at, got)
			case !special(byte(c)) && got != 24:
				t.Fatalf("byte %#x at %d: plainPrefix stopped at %d in ordinary content", c, at, got)
			}
		}
	}
}
