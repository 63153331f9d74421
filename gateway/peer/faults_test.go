package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// failing is a destination that fails every batch with err.
type failing struct{ err error }

func (f failing) Receive(context.Context, pki.Identity, []*x509.Certificate, []json.RawMessage, []contracts.DecodedEnvelope) (DeliverResponse, error) {
	return DeliverResponse{}, f.err
}

// TestAFaultIsAnsweredWithItsKindAndLoggedWhole: a batch the destination
// fails with a fault of its own (503, 500) is answered with the fault's
// kind and an error id, not the error, which names the destination's data
// file and the fault: the origin is another province's node, and logs
// what it is answered. The destination logs the whole error under that id,
// with the node that sent the batch.
func TestAFaultIsAnsweredWithItsKindAndLoggedWhole(t *testing.T) {
	const internals = "a commit to /var/lib/laborlink/node.db failed (input/output error)"
	for _, c := range []struct {
		name   string
		err    error
		status int
		kind   string
	}{
		{"store failed", fmt.Errorf("look up received envelopes: store failed: %s: %w", internals, ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
		{"internal", fmt.Errorf("export decision: %s", internals), http.StatusInternalServerError, "internal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			logs := &gatewaytest.Buffer{}
			h := NewHandler(failing{c.err}, Logger(slog.New(slog.NewJSONHandler(logs, nil))))
			srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, h)
			_, err := f.client(t, directory{"44": srv.URL}, BreakerSettings{}).Send(context.Background(), "44", batch("a"))
			var answer *AnswerError
			if !errors.As(err, &answer) || answer.Status != c.status {
				t.Fatalf("send: %v; want an answer of %d", err, c.status)
			}
			if strings.Contains(answer.Message, "node.db") || strings.Contains(answer.Message, "input/output") {
				t.Errorf("the origin was answered %q: the destination's internals", answer.Message)
			}
			if !strings.HasPrefix(answer.Message, c.kind+":") {
				t.Errorf("the origin was answered %q; want the fault's kind, %s", answer.Message, c.kind)
			}
			_, id, _ := strings.Cut(answer.Message, "error id ")
			id, _, _ = strings.Cut(id, " ")
			if id == "" {
				t.Fatalf("the origin was answered %q, without an error id", answer.Message)
			}
			if !loggedWhole(t, logs.String(), id, internals) {
				t.Errorf("the destination's log has no line with error_id %s, the sender and the whole error:\n%s", id, logs)
			}
		})
	}
}

// loggedWhole reports whether logs, JSON lines, has one with error id id,
// the fixture's client as its caller, and an error that holds internals.
func loggedWhole(t *testing.T, logs, id, internals string) bool {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec struct {
			ErrorID string `json:"error_id"`
			Caller  string `json:"caller"`
			Err     string `json:"err"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.ErrorID == id && rec.Caller == "p51/node/gw-1" && strings.Contains(rec.Err, internals) {
			return true
		}
	}
	return false
}
