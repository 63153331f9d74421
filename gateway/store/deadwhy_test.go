package store

import (
	"strings"
	"testing"
)

// TestDeadLetterWhySaysWhatHappened: a record's delivery state tells an
// envelope never sent, one the peer refused, and one whose answers could
// not be used apart; the last is not the peer's refusal, though its status
// is an HTTP one.
func TestDeadLetterWhySaysWhatHappened(t *testing.T) {
	for _, tt := range []struct {
		d         DeadLetter
		want, not string
	}{
		{DeadLetter{Peer: "44", Reason: "bad bytes"}, "could not be sent: bad bytes", "refused"},
		{DeadLetter{Peer: "44", Status: 422, Reason: "no"}, "province 44 refused the envelope with 422 Unprocessable Entity: no", "answers"},
		{DeadLetter{Peer: "44", Status: StatusBrokenAnswer, Reason: "answer breaks the protocol: x"}, "province 44 took the envelope but its answers for it could not be used: answer breaks the protocol: x", "refused"},
	} {
		if got := tt.d.Why(); !strings.Contains(got, tt.want) || strings.Contains(got, tt.not) {
			t.Errorf("Why() of %+v = %q; want %q, without %q", tt.d, got, tt.want, tt.not)
		}
	}
}
