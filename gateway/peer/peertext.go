package peer

import (
	"strconv"
	"strings"
	"unicode"
)

// maxPeerText bounds the error text kept of a peer's answer: room for a
// refusal's reason (what was wrong, with which field or limit), and
// little of another province's words in this node's logs, status and
// dead letters.
const maxPeerText = 512

// peerText is the error text of a peer's answer as AnswerError keeps it:
// cut to at most maxPeerText bytes (marked "..."), and with each rune that
// is not graphic (a newline, another control character, a bidirectional
// override) escaped as Go quotes it. Another province's node wrote it, and
// wherever it is shown, an API answer an operator's terminal prints as
// well as a log, it must read as the one line it says, not as lines or
// escapes of this node's own. It is decoded from JSON, so it is UTF-8.
func peerText(s string) string {
	var b strings.Builder
	cut := 0 // the length of the whole runes that leave room for "..."
	for _, r := range s {
		if b.Len() > maxPeerText {
			break
		}
		if unicode.IsGraphic(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		if b.Len() <= maxPeerText-len("...") {
			cut = b.Len()
		}
	}
	if b.Len() > maxPeerText {
		return b.String()[:cut] + "..."
	}
	return b.String()
}
