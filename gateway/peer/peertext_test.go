package peer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/laborlink/laborlink/pki"
)

// TestAPeersErrorTextIsCutAndEscaped: the error text of a peer's answer,
// written by another province's node, is kept as one line of at most
// maxPeerText bytes: a newline, an escape sequence or a bidirectional
// override in it is escaped, so that wherever it is shown it cannot pass
// for lines or text of this node's own.
func TestAPeersErrorTextIsCutAndEscaped(t *testing.T) {
	f := newFixture(t)
	const forged = "bad batch\n" + `{"level":"ERROR","msg":"forged"}` + "\x1b[2J\u202egnp.exe"
	for _, c := range []struct {
		name, text, want string
		cut              bool
	}{
		{"escapes", forged, `bad batch\n{"level":"ERROR","msg":"forged"}\x1b[2J\u202egnp.exe`, false},
		{"long", "envelope 0: " + strings.Repeat("很长", 500), "envelope 0: 很长很长", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(errorBody{Error: c.text})
			}))
			_, err := f.client(t, directory{"44": srv.URL}, BreakerSettings{}).Send(context.Background(), "44", batch("a"))
			var answer *AnswerError
			if !errors.As(err, &answer) {
				t.Fatalf("send: %v; want the peer's answer", err)
			}
			msg := answer.Message
			if len(msg) > maxPeerText || strings.HasSuffix(msg, "...") != c.cut {
				t.Errorf("kept %d bytes, cut %v; want at most %d, cut %v", len(msg), strings.HasSuffix(msg, "..."), maxPeerText, c.cut)
			}
			if i := strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsGraphic(r) }); i >= 0 {
				t.Errorf("kept %q, with a rune to escape at byte %d", msg, i)
			}
			if !strings.HasPrefix(msg, c.want) {
				t.Errorf("kept %q; want it to begin %q", msg, c.want)
			}
		})
	}
}
