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
			answer, logs := sendToFailing(t, c.err, c.status)
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

// sendToFailing sends a batch to a destination that fails it with err,
// and returns the answer, which must have status, and the destination's
// log.
func sendToFailing(t *testing.T, err error, status int) (*AnswerError, *gatewaytest.Buffer) {
	t.Helper()
	f := newFixture(t)
	logs := &gatewaytest.Buffer{}
	h := NewHandler(failing{err}, Logger(slog.New(slog.NewJSONHandler(logs, nil))))
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, h)
	_, sendErr := f.client(t, directory{"44": srv.URL}, BreakerSettings{}).Send(context.Background(), "44", batch("a"))
	var answer *AnswerError
	if !errors.As(sendErr, &answer) || answer.Status != status {
		t.Fatalf("send: %v; want an answer of %d", sendErr, status)
	}
	return answer, logs
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

// summarized is an error with words of its own, as exchange.Error is.
type summarized struct {
	summary string
	cause   error
}

func (s summarized) Error() string {
	if s.cause == nil {
		return s.summary
	}
	return s.summary + ": " + s.cause.Error()
}
func (s summarized) Summary() string { return s.summary }
func (s summarized) Unwrap() error   { return s.cause }
func (s summarized) Is(target error) bool {
	return target == ErrUnavailable
}

// TestAFaultTellsItsSummary: a fault with words of this node's own (the
// registry replica catching up at start, the store failing) tells the
// origin those words, and nothing of its cause; one without a cause is
// not logged above debug, one line per batch refused while a node starts.
func TestAFaultTellsItsSummary(t *testing.T) {
	const internals = "/var/lib/laborlink/node.db: input/output error"
	for _, c := range []struct {
		name   string
		err    error
		logged bool
	}{
		{"starting", summarized{summary: "the registry replica has not caught up yet (node starting); retry shortly"}, false},
		{"store failed", summarized{summary: "store received envelopes", cause: errors.New(internals)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer, logs := sendToFailing(t, c.err, http.StatusServiceUnavailable)
			summary := c.err.(summarized).summary
			if !strings.Contains(answer.Message, summary) || strings.Contains(answer.Message, "node.db") {
				t.Errorf("the origin was answered %q; want %q and nothing of the cause", answer.Message, summary)
			}
			if got := logs.String() != ""; got != c.logged {
				t.Errorf("logged at info or above: %v, want %v:\n%s", got, c.logged, logs)
			}
		})
	}
}
