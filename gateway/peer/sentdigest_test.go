package peer

import (
	"strings"
	"testing"
)

// TestSentDigestIsTheEnvelopesOwn: the digest a receipt is held to is the
// envelope's own payload_digest, not a member of that name in its payload,
// whether it is read from the tail or, for an envelope written otherwise
// than nodes write them, decoded.
func TestSentDigestIsTheEnvelopesOwn(t *testing.T) {
	own, other := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	for _, tc := range []struct {
		name, env, want string
	}{
		{"signed alone", `{"id":"x","payload":{"payload_digest":"` + other + `"},"payload_digest":"` + own + `","signer":"s","signature":"c2ln"}`, own},
		{"signed with its batch", `{"id":"x","payload":{},"payload_digest":"` + own + `","signer":"s","batch":{"root":"cm9vdA==","index":0,"size":1,"path":null,"signature":"c2ln"}}`, own},
		{"written with spaces", `{"id": "x", "payload": {"payload_digest": "` + other + `"}, "payload_digest": "` + own + `"}`, own},
		{"no digest", `{"id":"x","payload":{}}`, ""},
		{"not JSON", `{"id":`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sentDigest([]byte(tc.env))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("read %q; want an error", got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("read %q (%v); want %q", got, err, tc.want)
			}
		})
	}
}
